"""The quick start: a demo instance with a sample feed, above every app (it uses them all)."""
