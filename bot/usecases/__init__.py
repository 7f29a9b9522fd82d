"""What the CLI and the console both do, with the same validation and the same errors (codes, not English)."""
