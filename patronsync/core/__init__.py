"""The platform: institutions, code tables, secrets at rest and shared errors; no domain rules."""
