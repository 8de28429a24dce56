"""ioc_mercator_box_area(geom): the Web Mercator area (m²) of a lon/lat geometry's bounding box.

An upper bound of the geometry's own Mercator area, from four numbers of its box and no
ST_Transform: the tile SQL drops sub-pixel polygons with it before transforming anything, and
polygon layers carry a btree index on it (``tiles/indexes.py``) so low-zoom tiles find the
few polygons big enough to draw without reading the rest. IMMUTABLE, so it can be indexed;
not STRICT, so the planner inlines it (in queries and in the index's expression alike): called
as a function it cost ~5 µs a row, a 44k-polygon z8 tile 280 ms instead of 59 ms.
"""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION ioc_mercator_box_area(g geometry) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN ST_YMin(g) > -89 AND ST_YMax(g) < 89 THEN
    -- R² · Δλ · (y(φmax) − y(φmin)), R = 6378137 m (EPSG:3857's sphere)
    40680631590769.0 * radians(ST_XMax(g) - ST_XMin(g))
    * (ln(tan(pi() / 4 + radians(ST_YMax(g)) / 2)) - ln(tan(pi() / 4 + radians(ST_YMin(g)) / 2)))
  ELSE 'infinity'::double precision END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("tiles", "0001_estimated_rows")]
    operations = [
        migrations.RunSQL(SQL, "DROP FUNCTION IF EXISTS ioc_mercator_box_area(geometry) CASCADE")
    ]
