"""Thái Nguyên demo data: real boundaries and OSM features plus seeded synthetic IOC objects.

``python manage.py load_demo`` runs :func:`layers.demo.loader.load_demo`. Each section (admin
units, crosswalk, roads, traffic nodes, cameras, schools, health facilities, field reports,
accounts) is written in its own transaction as the ``demo-loader`` actor, and is skipped when
its rows are already there, so loading twice changes nothing.

Synthetic objects are generated from one seeded :class:`random.Random` per section and an
*anchor* time — the moment of the first load, read back from the database — so the same
database always gets the same data. They are marked "(mô phỏng)" in a visible text field.
"""

from pathlib import Path

ACTOR = "demo-loader"
SEED = 19_2025  # province code 19, reform year 2025
DATA_DIR = Path(__file__).resolve().parent / "data"
SYNTHETIC = "(mô phỏng)"
