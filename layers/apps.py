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
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    from layers import capture
    from layers.models import LayerAccess
    from layers.registry import registry

    capture.install(using=using)
    content_type = ContentType.objects.db_manager(using).get_for_model(
        LayerAccess, for_concrete_model=False
    )
    for layer in registry:
        for codename, name in layer.permissions():
            Permission.objects.db_manager(using).update_or_create(
                content_type=content_type, codename=codename, defaults={"name": name[:255]}
            )
