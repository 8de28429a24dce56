"""ioc_estimated_rows(): the planner's estimate of a table's rows in an envelope (PostGIS stats).

The tile renderer asks it before drawing a point layer, so a tile too dense to draw point by
point is clustered straight away instead of being rendered twice.
"""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION ioc_estimated_rows(tbl regclass, col text, env geometry)
RETURNS double precision LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN _postgis_selectivity(tbl, col, env) * greatest(
    (SELECT reltuples FROM pg_class WHERE oid = tbl), 0);
EXCEPTION WHEN OTHERS THEN
  -- No statistics yet (a table never ANALYZEd): the estimate is unknown, not an error.
  RETURN NULL;
END $$;
"""


class Migration(migrations.Migration):
    dependencies: list = []
    operations = [
        migrations.RunSQL(SQL, "DROP FUNCTION IF EXISTS ioc_estimated_rows(regclass, text, geometry)")
    ]
