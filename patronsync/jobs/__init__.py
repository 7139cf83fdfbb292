"""Jobs (Import and Synchronize runs), their per-user records, received files and reports."""
