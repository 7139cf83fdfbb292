"""Views of patronsync's own API: configuration (connections, profiles) and jobs."""

from .config import AllowedConnectionViewSet, ConnectionViewSet, ProfileViewSet
from .jobs import JobViewSet

__all__ = ["AllowedConnectionViewSet", "ConnectionViewSet", "JobViewSet", "ProfileViewSet"]
