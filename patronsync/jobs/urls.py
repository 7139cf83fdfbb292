"""Routes of the job pages."""

from django.urls import path

from . import views, views_run

app_name = "jobs"
urlpatterns = [
    path("", views.JobListView.as_view(), name="list"),
    path("<int:pk>/", views.JobDetailView.as_view(), name="detail"),
    path("<int:pk>/records.csv", views.JobRecordsCsvView.as_view(), name="records-csv"),
    path("run/<int:profile_pk>/", views_run.ProfileRunView.as_view(), name="profile-run"),
]
