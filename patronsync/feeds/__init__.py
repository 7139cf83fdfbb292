"""The IT department's toolkit: sample feeds, feed validation, and the ``patronsync feed`` CLI."""
