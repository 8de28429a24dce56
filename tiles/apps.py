from django.apps import AppConfig
from django.conf import settings


class TilesConfig(AppConfig):
    name = "tiles"
    verbose_name = "Tiles"

    def ready(self) -> None:
        from tiles import raster

        raster.register_dem_layers()
        if settings.TILES_BENCH_LAYERS:
            from tiles import benchlayers

            benchlayers.register()
