"""Top-level URL routes."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

admin.site.site_header = "patronsync administration"
admin.site.site_title = "patronsync"
admin.site.index_title = "Records"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("almaws/v1/", include("patronsync.almaws.urls")),
    path("api/v1/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/", include("patronsync.api.urls")),
    path("jobs/", include("patronsync.jobs.urls")),
    path("config/", include("patronsync.web.urls")),
    path("config/", include("patronsync.connections.urls")),
    path("config/", include("patronsync.profiles.urls")),
    path("", include("patronsync.patrons.urls")),
]
