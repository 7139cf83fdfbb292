"""Routes of the connections pages (under /config/)."""

from django.urls import path

from . import views

app_name = "connections"
urlpatterns = [
    path("allowed-sftp/", views.AllowedConnectionListView.as_view(), name="allowed-list"),
    path("allowed-sftp/add/", views.AllowedConnectionCreateView.as_view(), name="allowed-create"),
    path(
        "allowed-sftp/<int:pk>/",
        views.AllowedConnectionEditView.as_view(),
        name="allowed-edit",
    ),
    path(
        "allowed-sftp/<int:pk>/enabled/",
        views.AllowedConnectionEnableView.as_view(),
        name="allowed-enable",
    ),
    path(
        "allowed-sftp/<int:pk>/delete/",
        views.AllowedConnectionDeleteView.as_view(),
        name="allowed-delete",
    ),
    path("sftp/", views.ConnectionListView.as_view(), name="list"),
    path("sftp/new/", views.ConnectionCreateView.as_view(), name="create"),
    path("sftp/<int:pk>/", views.ConnectionEditView.as_view(), name="edit"),
    path("sftp/<int:pk>/delete/", views.ConnectionDeleteView.as_view(), name="delete"),
    path("sftp/<int:pk>/keygen/", views.ConnectionKeygenView.as_view(), name="keygen"),
    path("sftp/<int:pk>/test/", views.ConnectionTestView.as_view(), name="test"),
    path("sftp/<int:pk>/trust/", views.ConnectionTrustView.as_view(), name="trust"),
]
