"""Routes of patronsync's own API, mounted at /api/v1/ (no trailing slashes)."""

from django.http import HttpRequest, JsonResponse
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.routers import SimpleRouter

from .views import (
    AllowedConnectionViewSet,
    ConnectionViewSet,
    HistoryViewSet,
    JobViewSet,
    ProfileViewSet,
)


@csrf_exempt
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any other path under /api/v1/: a JSON 404 like the API's own, not the HTML page."""
    return JsonResponse({"detail": "Not found."}, status=404)


app_name = "api"

router = SimpleRouter(trailing_slash=False)
router.register("allowed-connections", AllowedConnectionViewSet, basename="allowed-connection")
router.register("connections", ConnectionViewSet, basename="connection")
router.register("profiles", ProfileViewSet, basename="profile")
router.register("jobs", JobViewSet, basename="job")
router.register("history", HistoryViewSet, basename="history")

urlpatterns = [*router.urls, re_path(r"^(?P<path>.*)$", not_found, name="not-found")]
