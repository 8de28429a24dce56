"""QGIS 3.22 (python3-qgis, the system Python) as a client of our tiles: the XYZ vector tiles
as a QgsVectorTileLayer and MapProxy's WMTS through the "wms" provider both load and render
something over Thái Nguyên with QGIS's default styles (script: tests/qgis/render_tile_layers.py).
"""

from __future__ import annotations

from pathlib import Path

import morecantile
import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_qgis

HERE = Path(__file__).resolve().parent
TMS = morecantile.tms.get("WebMercatorQuad")
# Thái Nguyên city and around (inside the demo DEM, many communes)
LON_LAT_BOX = (105.70, 21.50, 105.95, 21.72)


def drawn_fraction(path: str) -> float:
    """Share of pixels that are neither transparent nor the white background."""
    pixels = np.asarray(Image.open(path).convert("RGBA")).astype(int)
    opaque = pixels[..., 3] > 0
    not_white = (pixels[..., :3] < 250).any(axis=-1)
    return float((opaque & not_white).mean())


@pytest.mark.qgis
def test_qgis_renders_vector_tiles_and_wmts(live_url, tmp_path):
    lo = TMS.xy(LON_LAT_BOX[0], LON_LAT_BOX[1])
    hi = TMS.xy(LON_LAT_BOX[2], LON_LAT_BOX[3])
    data = run_qgis(
        "render_tile_layers.py", live_url, str(tmp_path), *map(str, (lo.x, lo.y, hi.x, hi.y))
    )
    for name in ("vector_tiles", "wmts"):
        entry = data[name]
        assert entry["valid"], f"{name}: {entry.get('error')}"
        assert entry["crs"] == "EPSG:3857"
        assert entry["render_errors"] == [], entry["render_errors"]
    # Commune outlines: thin strokes, but clearly drawn.
    assert drawn_fraction(data["vector_tiles"]["png"]) > 0.01
    # The DEM covers the whole extent: nearly every pixel is coloured.
    assert drawn_fraction(data["wmts"]["png"]) > 0.9
