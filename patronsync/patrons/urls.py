"""Routes of the user pages."""

from django.urls import path

from . import views

app_name = "patrons"
urlpatterns = [
    path("", views.PatronListView.as_view(), name="list"),
    path("users/<int:pk>/", views.PatronDetailView.as_view(), name="detail"),
    path("users/<int:pk>/edit/", views.PatronEditView.as_view(), name="edit"),
    path("users/<int:pk>/restore/", views.PatronRestoreView.as_view(), name="restore"),
    path("users/<int:pk>/history/", views.PatronHistoryView.as_view(), name="history"),
]
