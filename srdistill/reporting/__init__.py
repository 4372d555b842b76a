"""``srdistill report``: pictures and a page that explain a run, as the paper's figures do."""
