from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate


class TilesConfig(AppConfig):
    name = "tiles"
    verbose_name = "Tiles"

    def ready(self) -> None:
        from tiles import clusters, raster  # noqa: F401  (clusters: its system check)

        raster.register_dem_layers()
        if settings.TILES_BENCH_LAYERS:
            from tiles import benchlayers

            benchlayers.register()
        # tiles has no models module, so Django sends it no post_migrate: follow the layers
        # app's (whose tables the pyramids are built from), after its triggers are installed.
        post_migrate.connect(_after_migrate, dispatch_uid="tiles.clusters.install")


def _after_migrate(app_config, using="default", **kwargs) -> None:
    """Keep the cluster pyramids, their triggers and the tile indexes in step with the registry."""
    if app_config.label != "layers":
        return
    from tiles import clusters, indexes

    clusters.install(using=using)
    indexes.install(using=using)
