"""patronsync's own REST API (/api/v1/): profiles, connections, jobs and their reports."""
