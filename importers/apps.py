from django.apps import AppConfig


class ImportersConfig(AppConfig):
    name = "importers"
    verbose_name = "Importers"

    def ready(self) -> None:
        # Rasters imported earlier are layers too (their COGs live in IMPORTERS_RASTER_DIR).
        from importers.raster import register_imported_rasters

        register_imported_rasters()
