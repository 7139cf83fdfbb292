"""Routes of the configuration pages that belong to no other app: the code tables."""

from django.urls import path

app_name = "web"
urlpatterns: list = []
