"""Template helpers of the job pages."""
