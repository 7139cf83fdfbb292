"""Routes of the user pages."""

from django.urls import path

from . import views

app_name = "patrons"
urlpatterns = [
    path("", views.PatronListView.as_view(), name="list"),
    path("users/<int:pk>/", views.PatronDetailView.as_view(), name="detail"),
]
