"""The Alma-compatible Users REST API (/almaws/v1/...), authenticated with API keys."""
