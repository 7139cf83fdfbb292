"""Views of patronsync's own API: configuration (connections, profiles) and jobs."""

from .config import AllowedConnectionViewSet, ConnectionViewSet, ProfileViewSet
from .history import HistoryViewSet
from .jobs import JobViewSet

__all__ = [
    "AllowedConnectionViewSet",
    "ConnectionViewSet",
    "HistoryViewSet",
    "JobViewSet",
    "ProfileViewSet",
]
