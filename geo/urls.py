"""Where a request goes. One line per subsystem; each app owns its own URLs."""

from django.contrib import admin
from django.urls import include, path

from geo.views import healthz
from layers.views import admin_background, api_layers

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/layers", api_layers, name="api-layers"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("ogc_services.urls")),  # /ogc …
    path("", include("tiles.urls")),  # /tiles …, /styles …, /mapproxy …
    path("", include("importers.urls")),  # /admin/importers …
    path("admin/background.geojson", admin_background, name="admin-background"),
    path("admin/", admin.site.urls),
    path("", include("viewer.urls")),  # / and the viewer's APIs
]
