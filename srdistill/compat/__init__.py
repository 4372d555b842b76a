"""Small shims that keep third-party packages importable with current releases."""
