"""Terminal output: progress bars and tables."""
