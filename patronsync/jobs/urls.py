"""Routes of the job pages."""

from django.urls import path

from . import views, views_run

app_name = "jobs"
urlpatterns = [
    path("", views.JobListView.as_view(), name="list"),
    path("<int:pk>/", views.JobDetailView.as_view(), name="detail"),
    path("<int:pk>/records.csv", views.JobRecordsCsvView.as_view(), name="records-csv"),
    path("started/", views.JobsStartedView.as_view(), name="started"),
    path("<int:pk>/progress/", views.JobProgressView.as_view(), name="progress"),
    path("<int:pk>/cancel/", views.JobCancelView.as_view(), name="cancel"),
    path("<int:pk>/run-again/", views.JobRunAgainView.as_view(), name="run-again"),
    path("run/<int:profile_pk>/", views_run.ProfileRunView.as_view(), name="profile-run"),
]
