"""Routes of the Alma-compatible API, mounted at /almaws/v1/."""

from django.urls import path, re_path

from . import views

app_name = "almaws"

urlpatterns = [
    path("users", views.UserListView.as_view(), name="users"),
    path("users/<str:user_id>", views.UserDetailView.as_view(), name="user"),
    path("conf/code-tables/<str:name>", views.CodeTableView.as_view(), name="code-table"),
    re_path(r"^(?P<path>.*)$", views.not_found, name="not-found"),
]
