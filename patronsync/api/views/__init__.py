"""Views of patronsync's own API: configuration (connections, profiles) and jobs."""

from .config import ConnectionViewSet, ProfileViewSet
from .jobs import JobViewSet

__all__ = ["ConnectionViewSet", "JobViewSet", "ProfileViewSet"]
