"""Make PostGIS transform VN-2000 with the official datum shift (Decision 05/2007/QĐ-BTNMT).

PostGIS tries ``proj4text`` first when it builds a transformation, so setting it to our
PROJ string (position-vector ``+towgs84``) makes ST_Transform agree with pyproj to the
millimetre. Rows missing from an older spatial_ref_sys are inserted.
"""

from django.db import migrations


def apply_vn2000(apps, schema_editor):
    from geo.crs import CRS_REGISTRY

    with schema_editor.connection.cursor() as cursor:
        for entry in CRS_REGISTRY.values():
            if not entry.proj or entry.srid is None:
                continue
            cursor.execute(
                "UPDATE spatial_ref_sys SET proj4text = %s WHERE srid = %s",
                [entry.proj, entry.srid],
            )
            if cursor.rowcount == 0:
                cursor.execute(
                    "INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)"
                    " VALUES (%s, 'EPSG', %s, '', %s)",
                    [entry.srid, entry.srid, entry.proj],
                )


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []
    operations = [migrations.RunPython(apply_vn2000, migrations.RunPython.noop)]
