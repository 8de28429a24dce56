from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class LayersConfig(AppConfig):
    name = "layers"
    verbose_name = _("Lớp dữ liệu")

    def ready(self) -> None:
        from layers import catalog, checks  # noqa: F401  (declarations and system checks)

        post_migrate.connect(_after_migrate, sender=self)


def _after_migrate(app_config, using="default", **kwargs) -> None:
    """Keep the database's triggers and the per-layer permissions in step with the registry."""
    from layers import capture
    from layers.permissions import sync_layer_permissions

    capture.install(using=using)
    sync_layer_permissions(using=using)
