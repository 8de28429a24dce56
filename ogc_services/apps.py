from django.apps import AppConfig


class OgcServicesConfig(AppConfig):
    name = "ogc_services"
    verbose_name = "OGC API"
