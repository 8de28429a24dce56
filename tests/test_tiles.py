"""Vector tiles at /tiles: content against PostGIS, generalisation, access, HTTP behaviour."""

from __future__ import annotations

import dataclasses

import mapbox_vector_tile
import morecantile
import pytest
from django.db import connection
from django.test import Client

from layers.registry import registry
from tiles import mvt

pytestmark = pytest.mark.django_db
TMS = morecantile.tms.get("WebMercatorQuad")
# Thái Nguyên city centre
LON, LAT = 105.8442, 21.5942


@pytest.fixture(autouse=True)
def tile_cache(settings, tmp_path):
    settings.TILE_CACHE_DIR = tmp_path / "tiles"
    settings.TILE_CACHE_BACKEND = "file"
    return settings.TILE_CACHE_DIR


def login(client: Client, user) -> Client:
    if user is not None:
        client.force_login(user)
    return client


def decode(content: bytes) -> dict:
    return mapbox_vector_tile.decode(content)


def ids_in_tile(layer_id: str, z: int, x: int, y: int, margin: float) -> set[int]:
    """What PostGIS says a tile must hold: rows whose bbox meets the grown tile envelope."""
    layer = registry.get(layer_id)
    where, params = layer.sql_filter()
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT id FROM "{layer.table}" WHERE {where} AND geom && '
            "ST_Transform(ST_TileEnvelope(%s, %s, %s, margin => %s), 4326)",
            [*params, z, x, y, margin],
        )
        return {row[0] for row in cursor.fetchall()}


def test_high_zoom_tile_has_exactly_the_rows_postgis_selects(client):
    z = 14
    tile = TMS.tile(LON, LAT, z)
    response = client.get(f"/tiles/schools/{z}/{tile.x}/{tile.y}.mvt")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"
    features = decode(response.content)["schools"]["features"]
    expected = ids_in_tile("schools", z, tile.x, tile.y, mvt.BUFFER / mvt.EXTENT)
    assert expected, "the demo has schools in the city centre"
    assert {f["id"] for f in features} == expected
    # Attributes are the layer's public fields, and nothing else.
    layer = registry.get("schools")
    for feature in features:
        assert set(feature["properties"]) <= set(layer.public_fields)
        assert "point_count" not in feature["properties"]
    sample = features[0]
    with connection.cursor() as cursor:
        cursor.execute('SELECT name, code FROM "layers_school" WHERE id = %s', [sample["id"]])
        name, code = cursor.fetchone()
    assert sample["properties"]["name"] == name and sample["properties"]["code"] == code


def test_low_zoom_points_are_clustered_with_point_count(client):
    layer = registry.get("schools")
    z = 6
    assert z < layer.tile_options.cluster_below_zoom
    tile = TMS.tile(LON, LAT, z)
    response = client.get(f"/tiles/schools/{z}/{tile.x}/{tile.y}.mvt")
    features = decode(response.content)["schools"]["features"]
    counts = [f["properties"]["point_count"] for f in features]
    assert sum(counts) == len(ids_in_tile("schools", z, tile.x, tile.y, 0.0))
    assert len(features) < sum(counts), "points are merged into clusters"
    assert max(counts) > 1
    # A lone point keeps its attributes; a cluster carries only its count.
    for feature in features:
        if feature["properties"]["point_count"] > 1:
            assert set(feature["properties"]) == {"point_count"}
        else:
            assert "name" in feature["properties"]


def test_polygons_are_simplified_and_small_ones_dropped_at_low_zoom(client):
    z = 7
    tile = TMS.tile(LON, LAT, z)
    low = decode(client.get(f"/tiles/communes_2009/{z}/{tile.x}/{tile.y}.mvt").content)
    in_envelope = ids_in_tile("communes_2009", z, tile.x, tile.y, mvt.BUFFER / mvt.EXTENT)
    drawn = {f["id"] for f in low["communes_2009"]["features"]}
    assert drawn <= in_envelope and drawn
    # Harder generalisation at low zoom: fewer vertices than the same polygon a few zooms in.
    sample = max(low["communes_2009"]["features"], key=lambda f: len(str(f["geometry"])))

    def vertices(geometry) -> int:
        return str(geometry["coordinates"]).count("[") if geometry else 0

    z_hi = 12
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
            'FROM "layers_adminunit" WHERE id = %s',
            [sample["id"]],
        )
        lon, lat = cursor.fetchone()
    hi_tile = TMS.tile(lon, lat, z_hi)
    hi = decode(client.get(f"/tiles/communes_2009/{z_hi}/{hi_tile.x}/{hi_tile.y}.mvt").content)
    hi_feature = next(f for f in hi["communes_2009"]["features"] if f["id"] == sample["id"])
    assert vertices(hi_feature["geometry"]) > 0
    # With a huge minimum area nothing is drawn at this zoom.
    layer = registry.get("communes_2009")
    big = dataclasses.replace(layer.tile_options, min_area_px=10**9)
    specs = [dataclasses.replace(s, options=big) for s in mvt.specs_for(layer, ("name",))]
    assert mvt.render_specs(specs, z, tile.x, tile.y) == b""


@pytest.mark.parametrize("layer_id", ["communes_2009", "communes", "province"])
def test_box_area_prefilter_changes_nothing_drawn(layer_id):
    """Sub-pixel polygons are dropped by their box's Mercator area before ST_Transform (an
    indexed bound, tiles/indexes.py): tiles must equal those of the exact test alone."""
    import re

    layer = registry.get(layer_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname = %s",
            [layer.table, f"{layer.table}_ioc_geom_box_area"],
        )
        indexdef = cursor.fetchone()[0]
        assert "USING gist" in indexdef and mvt.BOX_AREA_FUNCTION in indexdef
        spec = mvt.specs_for(layer, ("name",))[0]
        for z in range(5, 13):
            tile = TMS.tile(LON, LAT, z)
            for scale in (1.0, 2.0):
                sql, params = mvt.tile_sql(spec, z, scale=scale)
                exact = re.sub(rf" AND {mvt.BOX_AREA_FUNCTION}\([^)]*\) >= [0-9.e+-]+", "", sql)
                assert exact != sql
                drawn = []
                for statement in (sql, exact):
                    cursor.execute(statement, [z, tile.x, tile.y, z, tile.x, tile.y, *params])
                    drawn.append(bytes(cursor.fetchone()[0] or b""))
                assert drawn[0] == drawn[1], (z, scale)


def test_a_polygon_tile_over_the_size_limit_drops_its_smallest_in_one_statement(db):
    """A polygon tile that would exceed MAX_TILE_BYTES keeps its largest polygons up to the
    size estimate and drops the smallest, in its one statement (not drawn again generalised
    harder): every kept polygon is larger than every dropped one."""
    z = 12
    tile = TMS.tile(LON, LAT, z)
    west, south, east, north = TMS.bounds(tile)
    n = 15_000
    with connection.cursor() as cursor:
        # squares of distinct sizes (30–60 m sides) well inside the tile, 30-byte names
        cursor.execute(
            "CREATE TEMP TABLE big_parcels AS SELECT i AS id, "
            "'parcel ' || lpad(i::text, 22, '0') AS name, ST_Expand(ST_SetSRID(ST_MakePoint("
            "%s + (%s - %s) * (0.05 + 0.9 * ((i::bigint * 7919) %% 1000 + 0.5) / 1000.0), "
            "%s + (%s - %s) * (0.05 + 0.9 * ((i::bigint * 104729) %% 997 + 0.5) / 997.0)), "
            "4326), 0.00014 * (1 + i::float8 / %s)) AS geom FROM generate_series(1, %s) AS i",
            [west, east, west, south, north, south, n, n],
        )
        cursor.execute("CREATE INDEX ON big_parcels USING gist (geom)")
        cursor.execute("ANALYZE big_parcels")
    communes = mvt.specs_for(registry.get("communes"), ("name",))[0]
    spec = dataclasses.replace(
        communes, name="big", table="big_parcels", id_column="id", where="TRUE", params=()
    )
    with connection.cursor() as cursor:
        rendered = mvt.render_spec(cursor, spec, z, tile.x, tile.y)
    assert rendered.scale == 1.0  # not drawn a second time
    assert 0.8 * mvt.MAX_TILE_BYTES < len(rendered.data) <= mvt.MAX_TILE_BYTES
    kept = {f["id"] for f in decode(rendered.data)["big"]["features"]}
    assert 1_000 < len(kept) < n
    # sizes grow with the id: the kept ones are exactly the largest
    assert kept == set(range(n - len(kept) + 1, n + 1))


def test_zoom_limits(client, monkeypatch):
    layer = registry.get("schools")
    limited = dataclasses.replace(
        layer, tile_options=dataclasses.replace(layer.tile_options, min_zoom=10)
    )
    monkeypatch.setitem(registry._layers, "schools", limited)
    tile = TMS.tile(LON, LAT, 8)
    assert client.get(f"/tiles/schools/8/{tile.x}/{tile.y}.mvt").content == b""


def test_restricted_layer_needs_permission_and_private_fields_need_more(client, users):
    z = 15
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_X(geom), ST_Y(geom) FROM layers_camera WHERE stream_url <> '' LIMIT 1"
        )
        lon, lat = cursor.fetchone()
    tile = TMS.tile(lon, lat, z)
    url = f"/tiles/cameras/{z}/{tile.x}/{tile.y}.mvt"
    assert client.get(url).status_code == 404  # anonymous: the layer does not exist for them
    assert login(Client(), users["viewer"]).get(url).status_code == 404
    assert login(Client(), users["staffer"]).get(url).status_code == 404

    operator = login(Client(), users["operator"]).get(url)
    assert operator.status_code == 200
    assert "private" in operator["Cache-Control"]
    tile_layers = decode(operator.content)
    assert set(tile_layers) == {"cameras", "cameras_fov"}  # the field of view comes along
    props = tile_layers["cameras"]["features"][0]["properties"]
    assert "stream_url" in props or "snapshot_url" in props
    fov = tile_layers["cameras_fov"]["features"]
    assert fov and fov[0]["geometry"]["type"] in {"Polygon", "MultiPolygon"}

    # Combined with a public layer, the caller's audience is kept apart in the cache.
    combo = login(Client(), users["operator"]).get(
        f"/tiles/schools,cameras/{z}/{tile.x}/{tile.y}.mvt"
    )
    assert combo.status_code == 200 and "cameras" in decode(combo.content)
    assert client.get(f"/tiles/schools,cameras/{z}/{tile.x}/{tile.y}.mvt").status_code == 404


def test_public_fields_only_for_callers_without_private_permission(client, users):
    with connection.cursor() as cursor:
        cursor.execute("SELECT ST_X(geom), ST_Y(geom) FROM layers_fieldreport LIMIT 1")
        lon, lat = cursor.fetchone()
    tile = TMS.tile(lon, lat, 16)
    url = f"/tiles/field_reports/16/{tile.x}/{tile.y}.mvt"
    anonymous = decode(client.get(url).content)["field_reports"]["features"]
    assert anonymous and all("reporter_phone" not in f["properties"] for f in anonymous)
    operator = decode(login(Client(), users["operator"]).get(url).content)
    assert any("reporter_name" in f["properties"] for f in operator["field_reports"]["features"])


def test_combined_tile_forms(client):
    tile = TMS.tile(LON, LAT, 13)
    addr = f"13/{tile.x}/{tile.y}.mvt"
    a = client.get(f"/tiles/schools,health_facilities,road_segments/{addr}")
    b = client.get(f"/tiles/{{road_segments,schools,health_facilities}}/{addr}")
    c = client.get(f"/tiles/combined/{addr}?layers=health_facilities,schools,road_segments")
    assert a.status_code == b.status_code == c.status_code == 200
    assert a.content == b.content == c.content
    assert {"schools", "health_facilities", "road_segments"} <= set(decode(a.content))


def test_etag_and_304(client, tile_cache):
    tile = TMS.tile(LON, LAT, 12)
    url = f"/tiles/schools/12/{tile.x}/{tile.y}.mvt"
    first = client.get(url)
    assert first["X-Tile-Cache"] == "miss"
    assert first["Cache-Control"] == "public, no-cache"
    etag = first["ETag"]
    second = client.get(url)
    assert second["X-Tile-Cache"] == "hit" and second["ETag"] == etag
    assert second.content == first.content
    not_modified = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200
    assert (tile_cache / "schools" / "public" / "12" / str(tile.x) / f"{tile.y}.mvt").exists()


def test_no_tile_over_500_kb(client):
    for z in range(0, 9):
        tile = TMS.tile(LON, LAT, z)
        key = ",".join(layer.id for layer in registry.feature_layers() if layer.access == "public")
        response = client.get(f"/tiles/{key}/{z}/{tile.x}/{tile.y}.mvt")
        assert response.status_code == 200
        assert len(response.content) <= mvt.MAX_TILE_BYTES


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/tiles/schools/a/0/0.mvt", 400),
        ("/tiles/schools/0/0/x.mvt", 400),
        ("/tiles/schools/-1/0/0.mvt", 400),
        ("/tiles/schools/3/8/0.mvt", 400),
        ("/tiles/schools/25/0/0.mvt", 400),
        ("/tiles/schools/99999999999/0/0.mvt", 400),
        ("/tiles/nope/0/0/0.mvt", 404),
        ("/tiles/nope.json", 404),
        ("/tiles/traffic_nodes/0/0/0.mvt", 404),  # internal
        ("/tiles/../0/0/0.mvt", 404),
        ("/tiles/%2e%2e/0/0/0.mvt", 404),
        ("/tiles/..%2f..%2fetc/0/0/0.mvt", 404),
        ("/tiles/schools/../0/0.mvt", 404),
        ("/tiles/schools/0/0/..%2f0.mvt", 404),
        ("/tiles/schools,schools/0/0/0.mvt", 404),
        ("/tiles/.epochs/0/0/0.mvt", 404),
        ("/tiles/combined/0/0/0.mvt", 400),
        ("/tiles/raster/../0/0/0.png", 404),
        ("/tiles/raster/dem_relief/0/0/q.png", 400),
        ("/mapproxy/../../etc/passwd", 404),
    ],
)
def test_bad_input(client, url, status, tile_cache):
    assert client.get(url).status_code == status
    # Nothing was written outside the cache's layer directories.
    if tile_cache.exists():
        assert all(p.name in {"schools", ".epochs"} for p in tile_cache.iterdir())


def test_tilejson(client, users):
    doc = client.get("/tiles/schools.json").json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"][0].endswith("/tiles/schools/{z}/{x}/{y}.mvt")
    (vector_layer,) = doc["vector_layers"]
    assert vector_layer["id"] == "schools" and "name" in vector_layer["fields"]
    assert "point_count" in vector_layer["fields"]
    lon0, lat0, lon1, lat1 = doc["bounds"]
    assert lon0 < LON < lon1 and lat0 < LAT < lat1
    assert client.get("/tiles/cameras.json").status_code == 404
    cams = login(Client(), users["operator"]).get("/tiles/cameras.json").json()
    assert [v["id"] for v in cams["vector_layers"]] == ["cameras", "cameras_fov"]
    assert "stream_url" in cams["vector_layers"][0]["fields"]
    combo = client.get("/tiles/schools,road_segments.json").json()
    assert {v["id"] for v in combo["vector_layers"]} == {"schools", "road_segments"}


def test_style_document(client, users):
    doc = client.get("/styles/ioc.json").json()
    assert doc["version"] == 8
    assert doc["glyphs"].endswith("/static/viewer/glyphs/{fontstack}/{range}.pbf")
    source = doc["sources"]["ioc"]
    assert "cameras" not in source["tiles"][0]  # anonymous callers don't get restricted layers
    ids = {layer["id"] for layer in doc["layers"]}
    assert {"schools-circle", "schools-label", "communes-fill", "road_segments-line"} <= ids
    road = next(la for la in doc["layers"] if la["id"] == "road_segments-line")
    assert road["paint"]["line-color"][0] == "match"
    assert "dem_relief" in doc["sources"] and doc["sources"]["dem_relief"]["type"] == "raster"
    operator = login(Client(), users["operator"]).get("/styles/ioc.json").json()
    assert "cameras" in operator["sources"]["ioc"]["tiles"][0]
    assert any(la.get("source-layer") == "cameras_fov" for la in operator["layers"])
    # Every style layer points at a source that exists and a source-layer the tiles carry.
    for layer in operator["layers"]:
        if "source" in layer:
            assert layer["source"] in operator["sources"]


def test_ogc_tileset_document(users):
    from tiles import ogc
    from tiles.service import TileNotFound

    doc = ogc.tileset_document("schools", None, "http://x")
    assert doc["tileMatrixSetURI"].endswith("/WebMercatorQuad")
    item = next(link for link in doc["links"] if link["rel"] == "item")
    assert item["href"] == "http://x/tiles/schools/{tileMatrix}/{tileCol}/{tileRow}.mvt"
    assert doc["layers"][0]["geometryDimension"] == 0
    limits = {lim["tileMatrix"]: lim for lim in doc["tileMatrixSetLimits"]}
    t = TMS.tile(LON, LAT, 12)
    assert limits["12"]["minTileCol"] <= t.x <= limits["12"]["maxTileCol"]
    assert ogc.tilesets_document("schools", None, "http://x")["tilesets"]
    assert ogc.tile_matrix_set_document()["id"] == "WebMercatorQuad"
    with pytest.raises(TileNotFound):
        ogc.tileset_document("cameras", None, "http://x")
    with pytest.raises(TileNotFound):
        ogc.tileset_document("schools", None, "http://x", "WorldCRS84Quad")
    assert (
        ogc.tileset_document("cameras", users["operator"], "http://x")["layers"][1][
            "geometryDimension"
        ]
        == 2
    )


def test_query_count_of_a_miss_and_a_hit(client, django_assert_max_num_queries):
    tile = TMS.tile(LON, LAT, 11)
    url = f"/tiles/schools,road_segments/11/{tile.x}/{tile.y}.mvt"
    # one statement per MVT layer, and the planner's density estimate for the point layer
    with django_assert_max_num_queries(3):
        client.get(url)
    with django_assert_max_num_queries(0):
        assert client.get(url)["X-Tile-Cache"] == "hit"


def test_a_tile_too_dense_to_draw_point_by_point_is_clustered(db):
    """Above the layer's clustering zoom, a tile whose planner estimate exceeds
    DENSE_TILE_POINTS is still clustered (point_count), counting every point once."""
    z = 13
    tile = TMS.tile(LON, LAT, z)
    west, south, east, north = TMS.bounds(tile)
    n = mvt.DENSE_TILE_POINTS + 5_000
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE dense_points AS SELECT i AS id, ST_SetSRID(ST_MakePoint("
            "%s + (%s - %s) * ((i::bigint * 7919) %% 1000 + 0.5) / 1000.0, "
            "%s + (%s - %s) * ((i::bigint * 104729) %% 997 + 0.5) / 997.0), 4326) AS geom "
            "FROM generate_series(1, %s) AS i",
            [west, east, west, south, north, south, n],
        )
        cursor.execute("CREATE INDEX ON dense_points USING gist (geom)")
        cursor.execute("ANALYZE dense_points")
    spec = dataclasses.replace(
        mvt.specs_for(registry.get("schools"), ())[0],
        name="dense",
        table="dense_points",
        columns=(),
        where="TRUE",
        params=(),
    )
    assert not spec.clustered(z)
    data = mvt.render_specs([spec], z, tile.x, tile.y)
    features = mapbox_vector_tile.decode(data)["dense"]["features"]
    counts = [f["properties"].get("point_count", 1) for f in features]
    assert sum(counts) == n
    assert len(features) < n / 10 and max(counts) > 1
    assert len(data) <= mvt.MAX_TILE_BYTES
    # decided inside the tile's statement (planner estimate, clusters computed on the fly):
    # the very bytes of the statement clustering on purpose
    sql, params = mvt.tile_sql(spec, z, dense=True)
    with connection.cursor() as cursor:
        cursor.execute(sql, [z, tile.x, tile.y, z, tile.x, tile.y, *params])
        assert bytes(cursor.fetchone()[0]) == data
