"""Django's SQLite backend with an owner-only database file (`ENGINE: patronsync.core.sqlite`)."""
