"""The cluster pyramid (tiles/clusters.py): tiles read from it are identical to clustering on
the fly, and it stays exact after edits through the service functions, plain SQL as another
database role, multi-row statements, COPY-sized inserts, id changes and TRUNCATE."""

from __future__ import annotations

import dataclasses
import random
import time

import mapbox_vector_tile
import morecantile
import psycopg
import pytest
from django.contrib.gis.geos import Point
from django.core.checks import run_checks
from django.core.management import call_command
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from geo.db import conninfo
from layers import services
from layers.registry import FeatureLayer, registry
from tiles import clusters, mvt

TMS = morecantile.tms.get("WebMercatorQuad")
LON, LAT = 105.8442, 21.5942
BBOX = (105.5, 21.3, 106.2, 21.95)
TABLE = "t_cluster_points"
TOP = 13  # the synthetic layer's pyramid covers z0–z13 (dense tiles up to z13)
ROLE = "t_tiles_clusters"


def expected_pyramid(cursor, p: clusters.Pyramid) -> set[tuple]:
    """The pyramid by its definition: every level grouped straight from the points."""
    rows = set()
    for z in range(p.max_zoom + 1):
        cell = p.cluster_px * mvt.resolution(z)
        cells = mvt.point_cell_sql(f't."{p.geom}"', f't."{p.pk}"', cell)
        cursor.execute(
            f"SELECT {z}, _cx, _cy, count(*)::int, sum(_qx)::bigint, sum(_qy)::bigint, "
            f"min(_id)::bigint FROM (SELECT {cells} FROM {p.table} t "
            f"WHERE abs(ST_Y(t.geom)) <= {mvt.MAX_LAT!r}) s GROUP BY _cx, _cy"
        )
        rows |= set(cursor.fetchall())
    return rows


def stored_pyramid(cursor, p: clusters.Pyramid) -> set[tuple]:
    cursor.execute(f"SELECT z, cx, cy, n, sx, sy, id FROM {p.name}")
    return set(cursor.fetchall())


def assert_exact(p: clusters.Pyramid) -> None:
    with connection.cursor() as cursor:
        expected, stored = expected_pyramid(cursor, p), stored_pyramid(cursor, p)
    assert stored == expected, (
        f"missing {sorted(expected - stored)[:5]}, wrong {sorted(stored - expected)[:5]}"
    )


def decoded(spec: mvt.TileSpec, z, x, y, *, pyramid: bool, scale=1.0, dense=False) -> list:
    sql, params = mvt.tile_sql(spec, z, scale=scale, dense=dense, pyramid=pyramid)
    with connection.cursor() as cursor:
        cursor.execute(sql, [z, x, y, z, x, y, *params])
        data = bytes(cursor.fetchone()[0] or b"")
    layer = mapbox_vector_tile.decode(data).get(spec.name, {"features": []})
    return sorted(
        (f["id"], sorted(f["properties"].items()), str(f["geometry"])) for f in layer["features"]
    )


# --- a synthetic dense layer -------------------------------------------------------------------
@pytest.fixture
def synthetic(db):
    """20,000 points (some exactly on tile edges and corners) with a pyramid to z13."""
    rng = random.Random(7)
    points = [(rng.uniform(BBOX[0], BBOX[2]), rng.uniform(BBOX[1], BBOX[3])) for _ in range(20_000)]
    for z in (6, 9, 12, 13):  # tile corners and edges
        t = TMS.tile(LON, LAT, z)
        b = TMS.bounds(t)
        points += [(b.left, b.bottom), (b.right, b.top), (b.left, LAT), (LON, b.top)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {TABLE} (id serial PRIMARY KEY, name text NOT NULL DEFAULT 'p', "
            "geom geometry(Point, 4326) NOT NULL)"
        )
        cursor.execute(f"CREATE INDEX ON {TABLE} USING gist (geom)")
        pyramid = clusters.Pyramid(TABLE, "geom", "id", TOP, 16)
        clusters.install_pyramid(cursor, pyramid)  # empty: the triggers fill it
        with connection.connection.cursor().copy(f"COPY {TABLE} (geom) FROM STDIN") as copy:
            for lon, lat in points:
                copy.write_row([f"SRID=4326;POINT({lon!r} {lat!r})"])
        cursor.execute(f"ANALYZE {TABLE}")
    base = mvt.specs_for(registry.get("schools"), ())[0]
    spec = dataclasses.replace(
        base,
        name="pts",
        table=TABLE,
        columns=(("name", "name"),),
        where="TRUE",
        params=(),
        options=dataclasses.replace(base.options, dense_max_zoom=TOP),
        pyramid=mvt.pyramid_table(TABLE),
        pyramid_max_zoom=TOP,
    )
    return pyramid, spec


def tiles_to_compare():
    out = []
    for z in range(TOP + 1):
        t = TMS.tile(LON, LAT, z)
        out += [(z, t.x, t.y), (z, t.x + 1, t.y), (z, t.x, t.y - 1)]
    return [(z, x, y) for z, x, y in out if 0 <= x < 2**z and 0 <= y < 2**z]


def test_tiles_from_the_pyramid_equal_clustering_on_the_fly(synthetic):
    pyramid, spec = synthetic
    assert_exact(pyramid)
    compared = 0
    for z, x, y in tiles_to_compare():
        for scale in (1.0, 4.0, 16.0):
            dense = z >= spec.options.cluster_below_zoom
            if spec.pyramid_zoom(z, scale) is None:
                continue
            fly = decoded(spec, z, x, y, pyramid=False, scale=scale, dense=dense)
            pyr = decoded(spec, z, x, y, pyramid=True, scale=scale, dense=dense)
            assert pyr == fly, (z, x, y, scale)
            compared += bool(fly)
    assert compared > 30
    # a tile's clusters hold every point of the tile once
    z = 12
    t = TMS.tile(LON, LAT, z)
    counts = [
        dict(p)["point_count"] for _, p, _ in decoded(spec, z, t.x, t.y, pyramid=True, dense=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {TABLE} WHERE geom && ST_Transform(ST_TileEnvelope(%s, %s, %s),"
            " 4326)",
            [z, t.x, t.y],
        )
        in_tile = cursor.fetchone()[0]
    # (a point on an edge, or within float4 rounding of it, counts in one tile only)
    assert in_tile - 10 <= sum(counts) <= in_tile


def test_dense_tiles_are_counted_from_the_pyramid(
    synthetic, django_assert_num_queries, monkeypatch
):
    _, spec = synthetic
    monkeypatch.setattr(mvt, "DENSE_TILE_POINTS", 2_000)  # a z10 tile holds ~5,000 here
    z = 10
    t = TMS.tile(LON, LAT, z)
    with connection.cursor() as cursor:
        assert mvt.is_dense(cursor, spec, z, t.x, t.y)
        far = TMS.tile(BBOX[2] + 0.5, BBOX[3] + 0.5, z)
        assert not mvt.is_dense(cursor, spec, z, far.x, far.y)
    with django_assert_num_queries(1) as captured:  # the count decides inside the tile's statement
        data = mvt.render_specs([spec], z, t.x, t.y)
    assert "point_count" in mapbox_vector_tile.decode(data)["pts"]["features"][0]["properties"]
    assert captured.captured_queries[0]["sql"] == mvt.tile_sql(spec, z, dense=None)[0]
    with connection.cursor() as cursor:
        rendered = mvt.render_spec(cursor, spec, z, t.x, t.y)
        assert rendered.dense and rendered.data == data
        # the same bytes as the tile clustered on purpose, and the sparse tile as drawn point
        # by point: deciding in the statement changes nothing drawn
        assert decoded(spec, z, t.x, t.y, pyramid=True, dense=True) == sorted(
            (f["id"], sorted(f["properties"].items()), str(f["geometry"]))
            for f in mapbox_vector_tile.decode(data)["pts"]["features"]
        )
        sparse = mvt.render_spec(cursor, spec, z, far.x, far.y)
        assert not sparse.dense
        sql, params = mvt.tile_sql(spec, z)
        cursor.execute(sql, [z, far.x, far.y, z, far.x, far.y, *params])
        assert sparse.data == bytes(cursor.fetchone()[0] or b"")


ops = st.lists(
    st.tuples(
        st.sampled_from(["insert", "move", "rename", "delete", "reid", "swap"]),
        st.integers(1, 400),
        st.integers(0, 2**31),
    ),
    min_size=1,
    max_size=6,
)


@hsettings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=ops)
def test_plain_sql_statements_keep_the_pyramid_exact(synthetic, steps):
    pyramid, spec = synthetic
    with connection.cursor() as cursor:
        for op, k, seed in steps:
            if op == "insert":  # one multi-row statement
                cursor.execute(
                    f"INSERT INTO {TABLE} (geom) SELECT ST_SetSRID(ST_MakePoint("
                    "%s + random() * %s, %s + random() * %s), 4326) FROM generate_series(1, %s)",
                    [BBOX[0], BBOX[2] - BBOX[0], BBOX[1], BBOX[3] - BBOX[1], k],
                )
            elif op == "move":
                cursor.execute(
                    f"UPDATE {TABLE} SET geom = ST_Translate(geom, %s, %s) WHERE id %% %s = 0",
                    [(seed % 200 - 100) * 1e-4, (seed % 70 - 35) * 1e-4, k + 1],
                )
            elif op == "rename":  # attributes only: nothing to do for the pyramid
                cursor.execute(f"UPDATE {TABLE} SET name = %s WHERE id %% %s = 1", [str(seed), k])
            elif op == "delete":
                cursor.execute(f"DELETE FROM {TABLE} WHERE id %% %s = %s", [k + 50, seed % 7])
            elif op == "reid":  # a new id for some rows (lone points change identity)
                cursor.execute(
                    f"UPDATE {TABLE} SET id = id + 1000000 WHERE id IN "
                    f"(SELECT id FROM {TABLE} WHERE id < 1000000 ORDER BY id LIMIT %s)",
                    [k % 5 + 1],
                )
            else:  # two rows trade places
                cursor.execute(
                    f"WITH a AS (SELECT id, geom FROM {TABLE} ORDER BY id LIMIT 2) "
                    f"UPDATE {TABLE} t SET geom = (SELECT geom FROM a WHERE a.id <> t.id) "
                    "WHERE t.id IN (SELECT id FROM a)"
                )
    assert_exact(pyramid)
    z = 9
    t = TMS.tile(LON, LAT, z)
    assert decoded(spec, z, t.x, t.y, pyramid=True) == decoded(spec, z, t.x, t.y, pyramid=False)


def test_truncate_empties_the_pyramid(synthetic):
    pyramid, _ = synthetic
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {TABLE}")
        assert stored_pyramid(cursor, pyramid) == set()
        cursor.execute(
            f"INSERT INTO {TABLE} (geom) VALUES (ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
            [LON, LAT],
        )
    assert_exact(pyramid)


# --- the catalog's layers: service functions and another role's SQL ----------------------------
def schools_pyramid() -> clusters.Pyramid:
    return clusters.Pyramid.of(registry.get("schools"))


def test_every_clustered_point_layer_has_an_exact_pyramid(db):
    installed = {layer.id for layer, _ in clusters.pyramids()}
    assert {
        "schools",
        "health_facilities",
        "cameras",
        "traffic_nodes",
        "field_reports",
    } <= installed
    for _, pyramid in clusters.pyramids():
        assert_exact(pyramid)
    spec = mvt.specs_for(registry.get("schools"), registry.get("schools").public_fields)[0]
    for z in range(spec.pyramid_max_zoom + 1):
        t = TMS.tile(LON, LAT, z)
        assert decoded(spec, z, t.x, t.y, pyramid=True) == decoded(spec, z, t.x, t.y, pyramid=False)


@pytest.fixture
def qgis_conn(committed):
    call_command("grant_layer_editing", ROLE, "--layers", "schools", verbosity=0)
    with psycopg.connect(conninfo(user=ROLE, password=None), autocommit=True) as conn:
        yield conn


lons = st.floats(min_value=105.6, max_value=106.1)
lats = st.floats(min_value=21.45, max_value=21.9)


@hsettings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(lon1=lons, lat1=lats, lon2=lons, lat2=lats)
def test_service_and_sql_edits_keep_the_pyramid_exact(qgis_conn, lon1, lat1, lon2, lat2):
    pyramid = schools_pyramid()
    school = services.do_create_feature(
        "schools",
        {"code": f"TC-{time.monotonic_ns()}", "name": "Trường thử", "level": "thcs"},
        Point(lon1, lat1, srid=4326),
        actor="test-clusters",
    )
    assert_exact(pyramid)
    school = services.do_update_feature(
        "schools",
        school.pk,
        {},
        geometry=Point(lon2, lat2, srid=4326),
        expected_version=school.version,
        actor="test-clusters",
    )
    assert_exact(pyramid)
    # QGIS/psql as another database role: the triggers write the pyramid for it
    qgis_conn.execute(
        "UPDATE layers_school SET geom = ST_SetSRID(ST_MakePoint(%s, %s), 4326) WHERE id = %s",
        [lon1, lat2, school.pk],
    )
    other = qgis_conn.execute(
        "INSERT INTO layers_school (code, name, level, ownership, address, osm_id, geom) "
        "SELECT %s, 'SQL', 'thcs', ownership, '', '', ST_SetSRID(ST_MakePoint(%s, %s), 4326) "
        "FROM layers_school WHERE id = %s RETURNING id",
        [f"TC-SQL-{time.monotonic_ns()}", lon2, lat1, school.pk],
    ).fetchone()[0]
    assert_exact(pyramid)
    qgis_conn.execute("DELETE FROM layers_school WHERE id = %s", [other])
    services.do_delete_feature(
        "schools",
        school.pk,
        expected_version=services_version(school.pk),
        actor="test-clusters",
    )
    assert_exact(pyramid)


def services_version(pk: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM layers_school WHERE id = %s", [pk])
        return cursor.fetchone()[0]


# --- command and checks ------------------------------------------------------------------------
def test_rebuild_clusters_command(committed, capsys):
    pyramid = schools_pyramid()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {pyramid.name} WHERE z = 3")  # damage it
    call_command("rebuild_clusters", "schools")
    out = capsys.readouterr().out
    assert "layers_school: z9" in out and "z0" in out and "Rebuilt 1" in out
    assert_exact(pyramid)
    with pytest.raises(Exception, match="road_segments"):
        call_command("rebuild_clusters", "road_segments")


def test_a_filtered_clustered_point_layer_is_refused_by_a_system_check(db):
    schools = registry.get("schools")
    filtered = dataclasses.replace(schools, id="t_filtered_schools", filter={"level": "thcs"})
    registry._layers[filtered.id] = filtered
    try:
        errors = [e for e in run_checks() if e.id == "tiles.E010"]
        assert errors and "t_filtered_schools" in errors[0].msg
        assert mvt.pyramid_levels(filtered) is None  # clustered on the fly meanwhile
    finally:
        del registry._layers[filtered.id]
    assert isinstance(schools, FeatureLayer)
