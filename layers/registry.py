"""The layer registry: the one place that says what is published and to whom.

Everything that publishes data — the OGC services, the tiles, the web map, QGIS projects —
reads this registry and nothing else. A layer *kind* is a small class with capability flags
(``supports_*``) declared as data, like pygeoapi's providers; the declarations of the
province's layers live in ``layers/catalog.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from django.utils.translation import get_language

if TYPE_CHECKING:
    from django.contrib.gis.db.models import Model, QuerySet


class Access(StrEnum):
    PUBLIC = "public"  # anyone, anonymous included
    INTERNAL = "internal"  # any staff account of the IOC, or an explicit view grant
    RESTRICTED = "restricted"  # only accounts/tokens granted layers.view_<id>


@dataclass(frozen=True)
class Text:
    """A user-facing text in Vietnamese (the default) and English."""

    vi: str
    en: str

    def __str__(self) -> str:
        return self.en if (get_language() or "vi").startswith("en") else self.vi

    def as_dict(self) -> dict[str, str]:
        return {"vi": self.vi, "en": self.en}


@dataclass(frozen=True)
class Style:
    """A layer's default cartography, small enough to turn into MapLibre or QGIS styles.

    ``color_by`` colours features by an attribute (e.g. a report's status): a field name and a
    value → colour mapping; values not listed use ``color``.
    """

    kind: str  # "circle" | "line" | "fill"
    color: str
    outline: str | None = None
    radius: float = 5.0
    width: float = 1.5
    opacity: float = 0.8
    color_by: tuple[str, Mapping[str, str]] | None = None
    label_field: str | None = None
    # Extra drawing of a secondary geometry column (a camera's field of view).
    secondary_geometry: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "color": self.color,
            "outline": self.outline,
            "radius": self.radius,
            "width": self.width,
            "opacity": self.opacity,
            "label_field": self.label_field,
            "secondary_geometry": self.secondary_geometry,
        }
        if self.color_by:
            data["color_by"] = {"field": self.color_by[0], "values": dict(self.color_by[1])}
        return data


@dataclass(frozen=True)
class TileOptions:
    """How a layer is generalised in vector tiles, per zoom (read by ``tiles/``).

    Pixel measures are in 256-px tile pixels at the zoom drawn. ``cluster_below_zoom``: below
    this zoom, points are merged on a grid of ``cluster_px`` pixels into one point carrying a
    ``point_count`` attribute (the attributes of a lone point are kept).
    """

    min_zoom: int = 0
    max_zoom: int = 22
    simplify_px: float = 0.5
    min_area_px: float = 0.25
    cluster_below_zoom: int | None = 10  # points only; None: never cluster
    cluster_px: int = 16
    # Secondary geometry (a camera's field of view) is drawn from this zoom on.
    secondary_min_zoom: int = 12
    # Clustered zooms read a cluster pyramid kept in step by database triggers (tiles/clusters.py)
    # instead of scanning every point; False: cluster on the fly.
    cluster_pyramid: bool = True
    # The highest zoom at which one tile of this layer can hold more than the dense limit
    # (tiles.mvt.DENSE_TILE_POINTS); the pyramid also covers the zooms up to it, so a dense
    # tile is counted and clustered from it. None: only the zooms below cluster_below_zoom.
    dense_max_zoom: int | None = None


class UnknownLayer(LookupError):
    """No layer with this id is registered."""


@dataclass(frozen=True, kw_only=True)
class LayerBase:
    """What every published layer declares; subclasses say how its data is reached."""

    id: str
    title: Text
    description: Text
    group: str  # key of GROUPS: where the web map's layer tree puts it
    keywords: tuple[str, ...] = ()
    access: Access = Access.PUBLIC
    attribution: str = ""
    visible_by_default: bool = True

    kind: ClassVar[str] = "base"
    # Can it be served as OGC API Features items?
    supports_features: ClassVar[bool] = False
    # Can it be drawn as vector tiles (MVT)?
    supports_vector_tiles: ClassVar[bool] = False
    # Is it a raster served through MapProxy?
    supports_raster_tiles: ClassVar[bool] = False

    # --- access ----------------------------------------------------------------------------
    @property
    def view_permission(self) -> str:
        return f"layers.view_{self.id}"

    def can_view(self, user) -> bool:
        if self.access == Access.PUBLIC:
            return True
        if user is None or not user.is_authenticated or not user.is_active:
            return False
        if self.access == Access.INTERNAL and user.is_staff:
            return True
        return user.has_perm(self.view_permission)

    def permissions(self) -> list[tuple[str, str]]:
        """(codename, name) pairs created for this layer after every migrate."""
        return [(f"view_{self.id}", f"Xem lớp {self.title.vi} / View layer {self.title.en}")]


@dataclass(frozen=True, kw_only=True)
class FeatureLayer(LayerBase):
    """A layer of PostGIS features backed by a GeoDjango model (optionally a filtered subset)."""

    model: type[Model]
    public_fields: tuple[str, ...]
    # Shown only to callers holding layers.view_private_<id> (stream URLs, reporter contact).
    restricted_fields: tuple[str, ...] = ()
    editable: bool = True
    filter: Mapping[str, Any] = field(default_factory=dict)
    # Values a new feature of this layer gets so that it lands in the layer's filter.
    create_defaults: Mapping[str, Any] = field(default_factory=dict)
    style: Style
    # The attribute that identifies a feature to other systems (imports upsert on it).
    key_field: str | None = "code"
    # The attribute OGC ``datetime`` filters on (None: the layer has no time dimension).
    temporal_field: str | None = "updated_at"
    # Vector-tile generalisation (tiles/): zoom range, simplification, point clustering.
    tile_options: TileOptions = TileOptions()

    kind: ClassVar[str] = "features"
    supports_features: ClassVar[bool] = True
    supports_vector_tiles: ClassVar[bool] = True

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def geometry_field(self) -> str:
        return self.model.geometry_field

    @property
    def geometry_column(self) -> str:
        """The database column of ``geometry_field`` (what raw SQL names)."""
        return self.model._meta.get_field(self.geometry_field).column

    @property
    def geometry_type(self) -> str:
        return self.model._meta.get_field(self.geometry_field).geom_type

    @property
    def secondary_geometry_fields(self) -> tuple[str, ...]:
        """Other geometry columns (derived) that change with the feature, e.g. a camera's FOV."""
        from django.contrib.gis.db.models import GeometryField

        return tuple(
            f.name
            for f in self.model._meta.concrete_fields
            if isinstance(f, GeometryField) and f.name != self.geometry_field
        )

    def queryset(self) -> QuerySet:
        return self.model.objects.filter(**self.filter)

    def sql_filter(self) -> tuple[str, list[Any]]:
        """The layer's row filter as a parameterised SQL condition on its table ("TRUE" if none)."""
        if not self.filter:
            return "TRUE", []
        parts, params = [], []
        for name, value in self.filter.items():
            column = self.model._meta.get_field(name).column
            parts.append(f'"{column}" = %s')
            params.append(value)
        return " AND ".join(parts), params

    # --- access ----------------------------------------------------------------------------
    @property
    def change_permission(self) -> str:
        return f"layers.change_{self.id}"

    @property
    def private_permission(self) -> str:
        return f"layers.view_private_{self.id}"

    def can_edit(self, user) -> bool:
        return (
            self.editable
            and user is not None
            and user.is_authenticated
            and user.is_active
            and self.can_view(user)
            and user.has_perm(self.change_permission)
        )

    def can_view_restricted_fields(self, user) -> bool:
        if not self.restricted_fields:
            return True
        return bool(
            user is not None
            and user.is_authenticated
            and user.is_active
            and user.has_perm(self.private_permission)
        )

    def fields_for(self, user) -> tuple[str, ...]:
        """The attribute names (no geometry) this caller may see."""
        if self.can_view_restricted_fields(user):
            return self.public_fields + self.restricted_fields
        return self.public_fields

    def permissions(self) -> list[tuple[str, str]]:
        perms = super().permissions()
        if self.editable:
            perms.append(
                (f"change_{self.id}", f"Sửa lớp {self.title.vi} / Edit layer {self.title.en}")
            )
        if self.restricted_fields:
            perms.append(
                (
                    f"view_private_{self.id}",
                    f"Xem trường hạn chế của {self.title.vi} / View restricted fields of "
                    f"{self.title.en}",
                )
            )
        return perms


@dataclass(frozen=True, kw_only=True)
class RasterLayer(LayerBase):
    """A raster (e.g. a DEM rendering) served as cached image tiles through MapProxy (tiles/).

    ``source`` is the raster file; ``render`` names how it is drawn (a key of the tile
    renderers in ``tiles/raster.py``, e.g. "relief" or "hillshade").
    """

    source: str
    render: str
    min_zoom: int = 0
    max_zoom: int = 16
    # lon/lat bounds; None: read from the raster
    bounds: tuple[float, float, float, float] | None = None

    kind: ClassVar[str] = "raster"
    supports_raster_tiles: ClassVar[bool] = True


# Groups of the web map's layer tree, in display order.
GROUPS: dict[str, Text] = {
    "admin": Text("Hành chính", "Administrative units"),
    "health": Text("Y tế", "Health"),
    "education": Text("Giáo dục", "Education"),
    "traffic": Text("Giao thông", "Traffic"),
    "cameras": Text("Camera", "Cameras"),
    "reports": Text("Phản ánh hiện trường", "Citizen field reports"),
    "relief": Text("Nền địa hình", "Terrain"),
}


class LayerRegistry:
    """Layer id → declaration, in declaration order."""

    def __init__(self) -> None:
        self._layers: dict[str, LayerBase] = {}

    def register(self, layer: LayerBase) -> LayerBase:
        if layer.id in self._layers:
            raise ValueError(f"layer {layer.id!r} is declared twice")
        if layer.group not in GROUPS:
            raise ValueError(f"layer {layer.id!r}: unknown group {layer.group!r}")
        self._layers[layer.id] = layer
        return layer

    def get(self, layer_id: str) -> LayerBase:
        try:
            return self._layers[layer_id]
        except KeyError:
            raise UnknownLayer(layer_id) from None

    def holds(self, layers: Iterable[LayerBase]) -> bool:
        """Are these the very declarations the registry holds now? (What a memo built from
        them checks before it is used: tests and reloads replace declarations.)"""
        return all(self._layers.get(layer.id) is layer for layer in layers)

    def __iter__(self) -> Iterator[LayerBase]:
        return iter(self._layers.values())

    def __contains__(self, layer_id: object) -> bool:
        return layer_id in self._layers

    def ids(self) -> list[str]:
        return list(self._layers)

    def of_kind(self, cls: type[LayerBase]) -> list[Any]:
        return [layer for layer in self if isinstance(layer, cls)]

    def feature_layers(self) -> list[FeatureLayer]:
        return self.of_kind(FeatureLayer)

    def raster_layers(self) -> list[RasterLayer]:
        return self.of_kind(RasterLayer)

    def visible_to(self, user) -> list[LayerBase]:
        return [layer for layer in self if layer.can_view(user)]

    def for_model(self, model: type[Model]) -> list[FeatureLayer]:
        return [layer for layer in self.feature_layers() if layer.model is model]

    def models(self) -> Iterable[type[Model]]:
        seen: dict[type, None] = {}
        for layer in self.feature_layers():
            seen.setdefault(layer.model, None)
        return list(seen)


registry = LayerRegistry()
