"""Integration profiles of type Users: the Import and Synchronize sections, and their schedules."""
