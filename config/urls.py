"""Top-level URL routes."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("almaws/v1/", include("patronsync.almaws.urls")),
    path("jobs/", include("patronsync.jobs.urls")),
    path("", include("patronsync.patrons.urls")),
]
