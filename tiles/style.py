"""The MapLibre style (``/styles/ioc.json``) composed from the registry's default styles.

One combined vector source carries every feature layer the caller may see (one request per
tile); raster layers come from MapProxy's WMTS (REST, XYZ order). Fonts are served locally by
the viewer at ``/static/viewer/glyphs/{fontstack}/{range}.pbf``. QGIS (≥ 3.16) imports the
same document (Layer Properties → Symbology → Load style, or as the style URL of an XYZ vector
tile connection); it skips what it does not support.
"""

from __future__ import annotations

from typing import Any

from layers.registry import FeatureLayer, RasterLayer, Style, registry
from tiles import service, tilejson

FONT = ["Noto Sans Regular"]
SOURCE = "ioc"


def color_expression(style: Style) -> Any:
    if not style.color_by:
        return style.color
    field, values = style.color_by
    expression: list[Any] = ["match", ["to-string", ["get", field]]]
    for value, color in values.items():
        expression += [value, color]
    return [*expression, style.color]


def _meta(layer, part: str) -> dict[str, Any]:
    return {
        "ioc:layer": layer.id,
        "ioc:part": part,
        "ioc:group": layer.group,
        "ioc:title": layer.title.as_dict(),
    }


def _visibility(layer) -> dict[str, str]:
    return {"visibility": "visible" if layer.visible_by_default else "none"}


def feature_style_layers(layer: FeatureLayer) -> list[dict[str, Any]]:
    style = layer.style
    base = {"source": SOURCE, "source-layer": layer.id}
    zooms = {"minzoom": layer.tile_options.min_zoom, "maxzoom": layer.tile_options.max_zoom + 1}
    out: list[dict[str, Any]] = []
    color = color_expression(style)
    if style.secondary_geometry:
        out.append(
            {
                "id": f"{layer.id}-{style.secondary_geometry}",
                "type": "fill",
                "source": SOURCE,
                "source-layer": f"{layer.id}_{style.secondary_geometry}",
                "minzoom": layer.tile_options.secondary_min_zoom,
                "layout": _visibility(layer),
                "paint": {"fill-color": color, "fill-opacity": 0.15, "fill-outline-color": color},
                "metadata": _meta(layer, "secondary"),
            }
        )
    if style.kind == "fill":
        out.append(
            {
                "id": f"{layer.id}-fill",
                "type": "fill",
                **base,
                **zooms,
                "layout": _visibility(layer),
                "paint": {"fill-color": color, "fill-opacity": style.opacity},
                "metadata": _meta(layer, "fill"),
            }
        )
        if style.outline:
            out.append(
                {
                    "id": f"{layer.id}-outline",
                    "type": "line",
                    **base,
                    **zooms,
                    "layout": _visibility(layer),
                    "paint": {"line-color": style.outline, "line-width": style.width},
                    "metadata": _meta(layer, "outline"),
                }
            )
    elif style.kind == "line":
        out.append(
            {
                "id": f"{layer.id}-line",
                "type": "line",
                **base,
                **zooms,
                "layout": {**_visibility(layer), "line-cap": "round", "line-join": "round"},
                "paint": {
                    "line-color": color,
                    "line-width": style.width,
                    "line-opacity": style.opacity,
                },
                "metadata": _meta(layer, "line"),
            }
        )
    else:  # circle; clusters (point_count > 1) grow with their size and show their count
        clustered = ["all", ["has", "point_count"], [">", ["get", "point_count"], 1]]
        out.append(
            {
                "id": f"{layer.id}-circle",
                "type": "circle",
                **base,
                **zooms,
                "layout": _visibility(layer),
                "paint": {
                    "circle-color": ["case", clustered, style.color, color],
                    "circle-radius": [
                        "case",
                        clustered,
                        [
                            "interpolate",
                            ["linear"],
                            ["get", "point_count"],
                            2,
                            style.radius + 3,
                            100,
                            style.radius + 10,
                            1000,
                            style.radius + 16,
                        ],
                        style.radius,
                    ],
                    "circle-opacity": style.opacity,
                    "circle-stroke-color": style.outline or "#ffffff",
                    "circle-stroke-width": 1,
                },
                "metadata": _meta(layer, "circle"),
            }
        )
        if layer.tile_options.cluster_below_zoom is not None:
            out.append(
                {
                    "id": f"{layer.id}-count",
                    "type": "symbol",
                    **base,
                    "maxzoom": layer.tile_options.cluster_below_zoom,
                    "filter": clustered,
                    "layout": {
                        **_visibility(layer),
                        "text-field": ["to-string", ["get", "point_count"]],
                        "text-font": FONT,
                        "text-size": 11,
                        "text-allow-overlap": True,
                    },
                    "paint": {"text-color": "#ffffff"},
                    "metadata": _meta(layer, "count"),
                }
            )
    if style.label_field:
        label = {
            "id": f"{layer.id}-label",
            "type": "symbol",
            **base,
            "minzoom": max(layer.tile_options.min_zoom, 11 if style.kind != "fill" else 9),
            "layout": {
                **_visibility(layer),
                "text-field": ["get", style.label_field],
                "text-font": FONT,
                "text-size": 12,
                "text-optional": True,
            },
            "paint": {
                "text-color": "#263238",
                "text-halo-color": "#ffffff",
                "text-halo-width": 1.2,
            },
            "metadata": _meta(layer, "label"),
        }
        if style.kind == "circle":
            label["layout"].update({"text-offset": [0, 1.1], "text-anchor": "top"})
        out.append(label)
    return out


def raster_style(layer: RasterLayer, base: str) -> tuple[dict[str, Any], dict[str, Any]]:
    source = {
        "type": "raster",
        "tiles": [f"{base}/mapproxy/wmts/{layer.id}/webmercator/{{z}}/{{x}}/{{y}}.png"],
        "tileSize": 256,
        "minzoom": layer.min_zoom,
        "maxzoom": layer.max_zoom,
        "attribution": layer.attribution,
    }
    if layer.bounds:
        source["bounds"] = list(layer.bounds)
    style_layer = {
        "id": f"{layer.id}-raster",
        "type": "raster",
        "source": layer.id,
        "layout": _visibility(layer),
        "paint": {"raster-opacity": 0.6 if layer.render == "hillshade" else 0.8},
        "metadata": _meta(layer, "raster"),
    }
    return source, style_layer


def style_document(user, base: str, lang: str | None = None) -> dict[str, Any]:
    visible = registry.visible_to(user)
    features = [
        layer
        for layer in visible
        if isinstance(layer, FeatureLayer) and layer.supports_vector_tiles
    ]
    rasters = [layer for layer in visible if isinstance(layer, RasterLayer)]
    sources: dict[str, Any] = {}
    layers: list[dict[str, Any]] = [
        {"id": "background", "type": "background", "paint": {"background-color": "#f4f1ea"}}
    ]
    for layer in rasters:
        sources[layer.id], style_layer = raster_style(layer, base)
        layers.append(style_layer)
    if features:
        key = service.canonical_key(features)
        sources[SOURCE] = {
            "type": "vector",
            "tiles": [tilejson.tile_url(key, base)],
            "minzoom": min(layer.tile_options.min_zoom for layer in features),
            "maxzoom": 16,  # MapLibre overzooms beyond; the data are detailed enough there
            "attribution": "; ".join(dict.fromkeys(layer.attribution for layer in features)),
        }
        # Areas under lines under points, in registry order within each.
        order = {"fill": 0, "line": 1, "circle": 2}
        for layer in sorted(features, key=lambda la: order.get(la.style.kind, 3)):
            layers.extend(feature_style_layers(layer))
    from django.conf import settings

    lon0, lat0, lon1, lat1 = settings.IOC_PROVINCE_BBOX
    return {
        "version": 8,
        "name": "Thái Nguyên IOC",
        "metadata": {"ioc:lang": lang or "vi"},
        "center": [(lon0 + lon1) / 2, (lat0 + lat1) / 2],
        "zoom": 8,
        "glyphs": f"{base}/static/viewer/glyphs/{{fontstack}}/{{range}}.pbf",
        "sources": sources,
        "layers": layers,
    }
