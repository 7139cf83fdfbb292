"""Routes of the profiles pages (under /config/)."""

from django.urls import path

from . import views

app_name = "profiles"
urlpatterns = [
    path("profiles/", views.ProfileListView.as_view(), name="list"),
    path("profiles/new/", views.ProfileStep1View.as_view(), name="new"),
    path("profiles/new/2/", views.ProfileStep2View.as_view(), name="new-2"),
    path(
        "profiles/schedule-preview/",
        views.SchedulePreviewView.as_view(),
        name="schedule-preview",
    ),
    path("profiles/<int:pk>/", views.ProfileDetailView.as_view(), name="detail"),
    path("profiles/<int:pk>/edit/", views.ProfileStep1View.as_view(), name="edit"),
    path("profiles/<int:pk>/edit/2/", views.ProfileStep2View.as_view(), name="edit-2"),
    path("profiles/<int:pk>/delete/", views.ProfileDeleteView.as_view(), name="delete"),
]
