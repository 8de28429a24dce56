"""btree_gist: lets a GiST index hold a number beside a geometry (``tiles/indexes.py``).

Polygon layers' tiles are selected by ``geom && envelope AND ioc_mercator_box_area(geom) >=
a zoom's sub-pixel area``; one GiST index on both answers both, so a polygon too small for its
tile is passed over inside the index instead of being fetched from the table and tested.
A trusted extension shipped with PostgreSQL: the database owner may create it.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tiles", "0002_mercator_box_area")]
    operations = [
        # Not dropped on the way back: other indexes of the database may use it by then.
        migrations.RunSQL("CREATE EXTENSION IF NOT EXISTS btree_gist", migrations.RunSQL.noop)
    ]
