"""The library's user store: Alma users with their segments, protection state and history."""
