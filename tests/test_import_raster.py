"""import_raster: a real DEM (and its VN-2000 TM-3 reprojection) → a served EPSG:3857 COG
layer; re-import replaces atomically and clears the layer's raster cache."""

from __future__ import annotations

import io
import json
from pathlib import Path

import morecantile
import numpy as np
import pytest
import rasterio
from django.core.management import CommandError, call_command
from rasterio.warp import Resampling, calculate_default_transform, reproject
from rasterio.windows import Window
from rio_cogeo.cogeo import cog_validate

from geo.crs import lookup
from layers.registry import registry

DEM = Path(__file__).resolve().parent.parent / "tiles" / "data" / "srtm3_thai_nguyen_clip.tif"


@pytest.fixture
def raster_dirs(tmp_path, settings):
    settings.IMPORTERS_RASTER_DIR = tmp_path / "rasters"
    settings.MAPPROXY_DIR = tmp_path / "mapproxy"
    settings.MAPPROXY_CACHE_DIR = tmp_path / "mapproxy-cache"
    added = set(registry.ids())
    yield tmp_path
    for layer_id in set(registry.ids()) - added:
        registry._layers.pop(layer_id)  # keep the session's registry as it was


def crop(tmp_path: Path) -> Path:
    out = tmp_path / "dem_crop.tif"
    with rasterio.open(DEM) as src:
        window = Window(200, 200, 160, 160)
        profile = src.profile | {
            "width": 160,
            "height": 160,
            "transform": src.window_transform(window),
        }
        with rasterio.open(out, "w", **profile) as dst:
            dst.write(src.read(window=window))
    return out


def to_tm3(src_path: Path, tmp_path: Path) -> Path:
    """The crop in VN-2000 / TM-3 106-30, as a provincial survey office would deliver it."""
    out = tmp_path / "dem_vn2000.tif"
    dst_crs = rasterio.crs.CRS.from_wkt(lookup("EPSG:9213").pyproj().to_wkt())
    with rasterio.open(src_path) as src:
        transform, width, height = calculate_default_transform(
            src.crs, dst_crs, src.width, src.height, *src.bounds
        )
        profile = src.profile | {
            "crs": dst_crs,
            "transform": transform,
            "width": width,
            "height": height,
        }
        with rasterio.open(out, "w", **profile) as dst:
            reproject(
                rasterio.band(src, 1),
                rasterio.band(dst, 1),
                dst_crs=dst_crs,
                resampling=Resampling.bilinear,
            )
    return out


def import_(path: Path, layer: str, *extra: str) -> str:
    out = io.StringIO()
    call_command("import_raster", str(path), "--layer", layer, *extra, stdout=out)
    return out.getvalue()


def test_dem_becomes_a_served_cog_layer(raster_dirs, tmp_path):
    from tiles.raster import xyz_png

    source = crop(tmp_path)
    text = import_(source, "dem_imported", "--title", "DEM nhập thử")
    cog = raster_dirs / "rasters" / "dem_imported.tif"
    assert "Lớp mới" in text and cog.exists()
    valid, errors, _ = cog_validate(str(cog))
    assert valid, errors
    with rasterio.open(cog) as ds, rasterio.open(source) as src:
        assert ds.crs.to_epsg() == 3857 and ds.overviews(1) and ds.nodata == src.nodata
    layer = registry.get("dem_imported")
    assert layer.kind == "raster" and str(layer.title) == "DEM nhập thử"
    meta = json.loads(cog.with_suffix(".json").read_text())
    lon = (meta["bounds"][0] + meta["bounds"][2]) / 2
    lat = (meta["bounds"][1] + meta["bounds"][3]) / 2
    tile = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 12)
    png = xyz_png("dem_imported", None, tile.z, tile.x, tile.y)
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    assert image[..., 3].max() == 255 and image[..., :3].std() > 0  # real relief, not blank


def test_vn2000_raster_lands_where_the_wgs84_one_does(raster_dirs, tmp_path):
    source = crop(tmp_path)
    import_(source, "dem_wgs84")
    import_(to_tm3(source, tmp_path), "dem_tm3")
    a = json.loads((raster_dirs / "rasters" / "dem_wgs84.json").read_text())["bounds"]
    b = json.loads((raster_dirs / "rasters" / "dem_tm3.json").read_text())["bounds"]
    # bounds of the reprojected grid grow by up to a pixel (~90 m) at most
    assert np.allclose(a, b, atol=0.002)


def test_reimport_replaces_atomically_and_clears_the_cache(raster_dirs, tmp_path):
    from tiles.raster import cog_path, ensure_cog

    source = crop(tmp_path)
    import_(source, "dem_again")
    cog = raster_dirs / "rasters" / "dem_again.tif"
    before = cog.stat().st_ino
    derived = ensure_cog(registry.get("dem_again"))
    assert derived.exists()
    text = import_(source, "dem_again")
    assert "Thay thế" in text and cog.stat().st_ino != before  # a new file, swapped in
    assert not cog_path(registry.get("dem_again")).exists()  # the tiles' COG was cleared
    assert not list((raster_dirs / "rasters").glob(".*tmp*"))


def test_bad_rasters_fail_clearly(raster_dirs, tmp_path):
    fake = tmp_path / "fake.tif"
    fake.write_text("not a raster")
    with pytest.raises(CommandError, match="unreadable_source"):
        import_(fake, "dem_bad")
    with pytest.raises(CommandError, match="raster_import"):
        import_(DEM, "schools")  # a vector layer's id
    assert not (raster_dirs / "rasters" / "dem_bad.tif").exists()
