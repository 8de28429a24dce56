"""OGC API – Tiles documents for the /ogc collections (served by ogc_services/).

The owner of /ogc calls these; the tiles themselves are the same cached ``/tiles/…`` URLs.
Only WebMercatorQuad is offered (the tile SQL and cache are Web Mercator).

    tilesets_document(layer_id, user, base_url)            → /ogc/collections/{id}/tiles
    tileset_document(layer_id, user, base_url, "WebMercatorQuad")
                                                           → …/tiles/WebMercatorQuad
    tile_matrix_set_document("WebMercatorQuad")            → /ogc/tileMatrixSets/WebMercatorQuad

They raise ``TileNotFound`` for an unknown layer, one the caller may not see, or another
tile matrix set (answer 404).
"""

from __future__ import annotations

from typing import Any

from tiles import mvt, service, tilejson

TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
CRS_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
MVT = "application/vnd.mapbox-vector-tile"


def _layer(layer_id: str, user):
    layers = service.resolve_layers(layer_id, user)
    if len(layers) != 1:
        raise service.TileNotFound(layer_id)
    return layers[0]


def tileset_document(
    layer_id: str, user, base_url: str, tile_matrix_set: str = TMS_ID
) -> dict[str, Any]:
    if tile_matrix_set != TMS_ID:
        raise service.TileNotFound(tile_matrix_set)
    layer = _layer(layer_id, user)
    collection = f"{base_url}/ogc/collections/{layer.id}"
    minzoom = layer.tile_options.min_zoom
    maxzoom = min(layer.tile_options.max_zoom, mvt.MAX_ZOOM)
    bounds = tilejson.extent(layer)
    fields = layer.fields_for(user)
    properties = {
        name: {"type": "number" if tilejson.field_type(layer, name) == "Number" else "string"}
        for name in fields
    }
    layers = []
    for vl in tilejson.vector_layers(layer, user):
        layers.append(
            {
                "id": vl["id"],
                "title": vl["description"],
                "dataType": "vector",
                "geometryDimension": _dimension(layer, vl["id"]),
                "minTileMatrix": str(vl["minzoom"]),
                "maxTileMatrix": str(min(vl["maxzoom"], mvt.MAX_ZOOM)),
                "propertiesSchema": {"type": "object", "properties": properties},
            }
        )
    return {
        "title": str(layer.title),
        "description": str(layer.description),
        "dataType": "vector",
        "crs": CRS_3857,
        "tileMatrixSetURI": TMS_URI,
        "attribution": layer.attribution,
        "boundingBox": {
            "lowerLeft": bounds[:2],
            "upperRight": bounds[2:],
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        },
        "tileMatrixSetLimits": tile_matrix_set_limits(bounds, minzoom, maxzoom),
        "layers": layers,
        "links": [
            {
                "rel": "self",
                "type": "application/json",
                "href": f"{collection}/tiles/{TMS_ID}",
                "title": "Tileset",
            },
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                "type": "application/json",
                "href": f"{base_url}/ogc/tileMatrixSets/{TMS_ID}",
                "title": TMS_ID,
            },
            {
                "rel": "item",
                "type": MVT,
                "templated": True,
                "href": f"{base_url}/tiles/{layer.id}/{{tileMatrix}}/{{tileCol}}/{{tileRow}}.mvt",
                "title": "Mapbox vector tiles",
            },
            {
                "rel": "describedby",
                "type": "application/json",
                "href": f"{base_url}/tiles/{layer.id}.json",
                "title": "TileJSON",
            },
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/geodata",
                "type": "application/json",
                "href": collection,
            },
        ],
    }


def _dimension(layer, mvt_layer: str) -> int:
    for spec in mvt.specs_for(layer, ()):
        if spec.name == mvt_layer:
            return {"point": 0, "line": 1, "polygon": 2}[spec.geometry_kind]
    return 2


def tile_matrix_set_limits(bounds, minzoom: int, maxzoom: int) -> list[dict[str, Any]]:
    from tiles.invalidation import tile_range

    limits = []
    for z in range(minzoom, min(maxzoom, 18) + 1):
        xmin, ymin, xmax, ymax = tile_range(tuple(bounds), z, 0.0, 0.0)
        limits.append(
            {
                "tileMatrix": str(z),
                "minTileRow": ymin,
                "maxTileRow": ymax,
                "minTileCol": xmin,
                "maxTileCol": xmax,
            }
        )
    return limits


def tilesets_document(layer_id: str, user, base_url: str) -> dict[str, Any]:
    layer = _layer(layer_id, user)
    collection = f"{base_url}/ogc/collections/{layer.id}"
    return {
        "tilesets": [
            {
                "title": str(layer.title),
                "dataType": "vector",
                "crs": CRS_3857,
                "tileMatrixSetURI": TMS_URI,
                "links": [
                    {
                        "rel": "self",
                        "type": "application/json",
                        "href": f"{collection}/tiles/{TMS_ID}",
                    },
                    {
                        "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                        "type": "application/json",
                        "href": f"{base_url}/ogc/tileMatrixSets/{TMS_ID}",
                    },
                    {
                        "rel": "item",
                        "type": MVT,
                        "templated": True,
                        "href": tile_template(layer.id, base_url),
                    },
                ],
            }
        ],
        "links": [{"rel": "self", "type": "application/json", "href": f"{collection}/tiles"}],
    }


def tile_template(layer_id: str, base_url: str) -> str:
    return f"{base_url}/tiles/{layer_id}/{{tileMatrix}}/{{tileCol}}/{{tileRow}}.mvt"


def tile_matrix_set_document(tile_matrix_set: str = TMS_ID) -> dict[str, Any]:
    import morecantile

    if tile_matrix_set != TMS_ID:
        raise service.TileNotFound(tile_matrix_set)
    return morecantile.tms.get(TMS_ID).model_dump(mode="json", exclude_none=True)
