"""System checks: every layer declaration must be consistent with its model."""

from django.core.checks import Error, Tags, register
from django.core.exceptions import FieldDoesNotExist


@register(Tags.models)
def check_registry(app_configs, **kwargs):
    from layers.registry import FeatureLayer, registry

    errors = []
    layer: FeatureLayer
    for layer in registry.feature_layers():
        meta = layer.model._meta

        names = [
            *layer.public_fields,
            *layer.restricted_fields,
            *layer.filter,
            *layer.create_defaults,
            layer.geometry_field,
        ]
        if layer.key_field:
            names.append(layer.key_field)
        if layer.temporal_field:
            names.append(layer.temporal_field)
        for name in names:
            try:
                meta.get_field(name)
            except FieldDoesNotExist:
                errors.append(
                    Error(
                        f"Layer {layer.id!r}: {name!r} is not a field of {meta.label}.",
                        hint="Fix the declaration in layers/catalog.py.",
                        id="layers.E001",
                    )
                )
        overlap = set(layer.public_fields) & set(layer.restricted_fields)
        if overlap:
            errors.append(
                Error(
                    f"Layer {layer.id!r}: fields {sorted(overlap)} are both public and restricted.",
                    id="layers.E002",
                )
            )
        if layer.style.color_by and layer.style.color_by[0] not in layer.public_fields:
            errors.append(
                Error(
                    f"Layer {layer.id!r}: its style colours by {layer.style.color_by[0]!r}, "
                    "which is not a public field.",
                    id="layers.E003",
                )
            )
    return errors
