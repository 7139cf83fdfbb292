"""Routes of the profiles pages (under /config/)."""

from django.urls import path

app_name = "profiles"
urlpatterns: list = []
