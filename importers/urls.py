"""The admin's import pages (before the admin's own URLs in geo/urls.py)."""

from django.urls import path

from importers import views

urlpatterns = [
    path("admin/importers/", views.upload, name="importers-upload"),
    path("admin/importers/<int:pk>/", views.job_detail, name="importers-job"),
    path(
        "admin/importers/<int:pk>/report.<str:fmt>",
        views.job_report,
        name="importers-report",
    ),
]
