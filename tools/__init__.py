"""Build tools of the repository (not part of any package)."""
