"""The `scheduler` command line."""
