"""Local adapters: SQLite stores, in-process dispatcher and delivery pool."""
