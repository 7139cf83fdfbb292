"""Routes of the connections pages (under /config/)."""

from django.urls import path

app_name = "connections"
urlpatterns: list = []
