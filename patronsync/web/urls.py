"""Routes of the configuration pages that belong to no other app: the code tables."""

from django.urls import path

from . import views

app_name = "web"
urlpatterns = [
    path("code-tables/", views.CodeTableListView.as_view(), name="code-table-list"),
    path(
        "code-tables/add-from-job/",
        views.UnknownCodeAddView.as_view(),
        name="code-table-add-unknown",
    ),
    path("code-tables/<str:table>/", views.CodeTableDetailView.as_view(), name="code-table-detail"),
    path(
        "code-tables/<str:table>/add/",
        views.CodeTableRowAddView.as_view(),
        name="code-table-row-add",
    ),
    path(
        "code-tables/<str:table>/<int:pk>/edit/",
        views.CodeTableRowEditView.as_view(),
        name="code-table-row-edit",
    ),
    path(
        "code-tables/<str:table>/<int:pk>/toggle/",
        views.CodeTableRowToggleView.as_view(),
        name="code-table-row-toggle",
    ),
    path(
        "code-tables/<str:table>/<int:pk>/delete/",
        views.CodeTableRowDeleteView.as_view(),
        name="code-table-row-delete",
    ),
]
