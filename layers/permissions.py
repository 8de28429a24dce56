"""Per-layer permissions, created from the registry (after every migrate, and on demand)."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType

from layers.models import LayerAccess
from layers.registry import registry


def sync_layer_permissions(using: str = "default") -> dict[str, Permission]:
    """Make sure every layer's permissions exist; returns them by codename."""
    content_type = ContentType.objects.db_manager(using).get_for_model(
        LayerAccess, for_concrete_model=False
    )
    wanted = {codename: name for layer in registry for codename, name in layer.permissions()}
    existing = {
        p.codename: p
        for p in Permission.objects.db_manager(using).filter(
            content_type=content_type, codename__in=wanted
        )
    }
    for codename, name in wanted.items():
        if codename not in existing:
            existing[codename] = Permission.objects.db_manager(using).create(
                content_type=content_type, codename=codename, name=name[:255]
            )
        elif existing[codename].name != name[:255]:
            existing[codename].name = name[:255]
            existing[codename].save(update_fields=["name"], using=using)
    return existing
