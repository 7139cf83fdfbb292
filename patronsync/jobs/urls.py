"""Routes of the job pages."""

from django.urls import path

from . import views, views_guard, views_purge, views_run

app_name = "jobs"
urlpatterns = [
    path("", views.JobListView.as_view(), name="list"),
    path("<int:pk>/", views.JobDetailView.as_view(), name="detail"),
    path("<int:pk>/records.csv", views.JobRecordsCsvView.as_view(), name="records-csv"),
    path("started/", views.JobsStartedView.as_view(), name="started"),
    path("<int:pk>/progress/", views.JobProgressView.as_view(), name="progress"),
    path("<int:pk>/cancel/", views.JobCancelView.as_view(), name="cancel"),
    path("<int:pk>/run-again/", views.JobRunAgainView.as_view(), name="run-again"),
    # A job held by the mass-change guard: Approve or Reject.
    path(
        "<int:pk>/approve/",
        views_guard.JobDecideView.as_view(decision="approve"),
        name="approve",
    ),
    path("<int:pk>/reject/", views_guard.JobDecideView.as_view(decision="reject"), name="reject"),
    path("run/<int:profile_pk>/", views_run.ProfileRunView.as_view(), name="profile-run"),
    # Purge User Records, and a job's rejected users as a zip (re-post).
    path("purge/<int:profile_pk>/", views_purge.ProfilePurgeView.as_view(), name="profile-purge"),
    path("<int:pk>/rejected.zip", views_purge.JobRejectedZipView.as_view(), name="rejected-zip"),
]
