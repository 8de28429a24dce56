"""Raster layers (the DEM's colour relief and hillshade): COG preparation and rendering.

The source GeoTIFF is converted once into a Cloud-Optimised GeoTIFF (rio-cogeo) under
``settings.MAPPROXY_DIR/cog``; tiles and WMS images are rendered from it with rio-tiler by
``render`` (a renderer per ``RasterLayer.render``), both for ``/tiles/raster/…png`` and for
MapProxy, whose ``riotiler`` source (``tiles/mapproxy.py``) calls ``render`` in-process.
"""

from __future__ import annotations

import io
import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from django.conf import settings

from layers.registry import RasterLayer, UnknownLayer, registry

log = logging.getLogger("tiles.raster")
DATA_DIR = Path(__file__).parent / "data"
DEM_FILE = DATA_DIR / "srtm3_thai_nguyen_clip.tif"
DEM_ATTRIBUTION = "SRTM (public domain)"

_lock = threading.Lock()


class RasterNotFound(LookupError):
    pass


def raster_layer(layer_id: str, user=None, check_access: bool = True) -> RasterLayer:
    try:
        layer = registry.get(layer_id)
    except UnknownLayer:
        raise RasterNotFound(layer_id) from None
    if not isinstance(layer, RasterLayer) or (check_access and not layer.can_view(user)):
        raise RasterNotFound(layer_id)
    return layer


# --- COG --------------------------------------------------------------------------------------
def cog_path(layer: RasterLayer) -> Path:
    return Path(settings.MAPPROXY_DIR) / "cog" / f"{Path(layer.source).stem}.cog.tif"


def ensure_cog(layer: RasterLayer) -> Path:
    """The layer's COG, (re)built when missing or older than its source."""
    target = cog_path(layer)
    source = Path(layer.source)
    if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    with _lock:
        if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
            return target
        from rio_cogeo.cogeo import cog_translate
        from rio_cogeo.profiles import cog_profiles

        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp.tif")
        log.info("building COG %s from %s", target, source)
        cog_translate(
            str(source),
            str(tmp),
            cog_profiles.get("deflate"),
            quiet=True,
            overview_resampling="average",
            web_optimized=False,
        )
        tmp.replace(target)
    return target


# --- renderers: elevation (masked array) → RGBA ------------------------------------------------
RELIEF_STOPS = [  # metres → colour (hypsometric tints)
    (-50, (80, 140, 90)),
    (50, (110, 170, 110)),
    (200, (170, 200, 120)),
    (400, (230, 220, 150)),
    (700, (210, 170, 110)),
    (1000, (170, 120, 80)),
    (1300, (150, 130, 120)),
    (1700, (250, 250, 250)),
]


def render_relief(elev: np.ma.MaskedArray, pixel_m: float) -> np.ndarray:
    values = np.ma.filled(elev.astype("float32"), np.nan)
    xs = [s[0] for s in RELIEF_STOPS]
    rgba = np.zeros((*values.shape, 4), dtype="uint8")
    missing = np.isnan(values)
    safe = np.where(missing, 0, values)
    for band in range(3):
        rgba[..., band] = np.interp(safe, xs, [s[1][band] for s in RELIEF_STOPS]).astype("uint8")
    rgba[..., 3] = np.where(missing, 0, 255)
    return rgba


def render_hillshade(
    elev: np.ma.MaskedArray, pixel_m: float, azimuth: float = 315.0, altitude: float = 45.0
) -> np.ndarray:
    values = np.ma.filled(elev.astype("float32"), np.nan)
    filled = np.where(
        np.isnan(values), np.nanmean(values) if np.isfinite(values).any() else 0, values
    )
    dy, dx = np.gradient(filled, pixel_m)
    slope = np.pi / 2 - np.arctan(np.hypot(dx, dy))
    aspect = np.arctan2(-dx, dy)
    az, alt = np.radians(360 - azimuth + 90), np.radians(altitude)
    shade = np.sin(alt) * np.sin(slope) + np.cos(alt) * np.cos(slope) * np.cos(az - aspect)
    grey = np.clip(shade * 255, 0, 255).astype("uint8")
    rgba = np.zeros((*values.shape, 4), dtype="uint8")
    rgba[..., 0] = rgba[..., 1] = rgba[..., 2] = grey
    rgba[..., 3] = np.where(np.isnan(values), 0, 255)
    return rgba


RENDERERS: dict[str, Callable[[np.ma.MaskedArray, float], np.ndarray]] = {
    "relief": render_relief,
    "hillshade": render_hillshade,
}


def render(
    layer: RasterLayer, bbox: tuple[float, float, float, float], crs: str, width: int, height: int
) -> np.ndarray:
    """RGBA pixels of ``layer`` for ``bbox`` in ``crs`` (e.g. "EPSG:3857"), one pixel of
    margin read around it so slopes at the edge are right."""
    from rasterio.crs import CRS
    from rio_tiler.io import Reader

    minx, miny, maxx, maxy = bbox
    px, py = (maxx - minx) / width, (maxy - miny) / height
    grown = (minx - px, miny - py, maxx + px, maxy + py)
    dst = CRS.from_user_input(crs)
    with Reader(str(ensure_cog(layer))) as reader:
        try:
            data = reader.part(
                grown,
                dst_crs=dst,
                bounds_crs=dst,
                width=width + 2,
                height=height + 2,
                resampling_method="bilinear",
                reproject_method="bilinear",
            )
        except Exception as exc:  # outside the raster: a transparent image
            if type(exc).__name__ in {"TileOutsideBounds", "EmptyMosaicError"}:
                return np.zeros((height, width, 4), dtype="uint8")
            raise
    elev = data.array[0]
    # metres per pixel on the ground (geographic CRS: degrees → metres at this latitude)
    pixel_m = px if dst.is_projected else px * 111_320 * np.cos(np.radians((miny + maxy) / 2))
    if dst.to_epsg() == 3857:
        lat = np.degrees(np.arctan(np.sinh(((miny + maxy) / 2) / 6378137.0)))
        pixel_m = px * np.cos(np.radians(lat))
    rgba = RENDERERS[layer.render](elev, float(pixel_m))
    return rgba[1:-1, 1:-1]


def to_png(rgba: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, "PNG", optimize=False)
    return out.getvalue()


def xyz_png(layer_id: str, user, z: int, x: int, y: int) -> bytes:
    from tiles.mvt import check_tile_address

    layer = raster_layer(layer_id, user)
    check_tile_address(z, x, y)
    import morecantile

    b = morecantile.tms.get("WebMercatorQuad").xy_bounds(x, y, z)
    return to_png(render(layer, (b.left, b.bottom, b.right, b.top), "EPSG:3857", 256, 256))


def clear_raster_cache(layer_id: str) -> None:
    """Forget everything derived from a raster layer's source (after a re-import): its COG
    and MapProxy's cached tiles. Called by the importers."""
    layer = raster_layer(layer_id, check_access=False)
    cog_path(layer).unlink(missing_ok=True)
    from tiles import mapproxy

    for path in mapproxy.cache_dirs(layer):
        shutil.rmtree(path, ignore_errors=True)
    mapproxy.reset()


def register_dem_layers() -> None:
    """The DEM renderings (called from TilesConfig.ready)."""
    from layers.registry import Text

    if "dem_relief" in registry:
        return
    common = dict(
        group="relief",
        source=str(DEM_FILE),
        attribution=DEM_ATTRIBUTION,
        keywords=("địa hình", "độ cao", "DEM", "SRTM", "relief"),
        max_zoom=15,
        bounds=(105.4296, 21.3204, 105.9996, 22.0004),
    )
    registry.register(
        RasterLayer(
            id="dem_relief",
            render="relief",
            visible_by_default=False,
            title=Text("Địa hình (phân tầng màu)", "Terrain (colour relief)"),
            description=Text(
                "Độ cao địa hình SRTM tô màu theo tầng độ cao.",
                "SRTM elevation coloured by height.",
            ),
            **common,
        )
    )
    registry.register(
        RasterLayer(
            id="dem_hillshade",
            render="hillshade",
            visible_by_default=False,
            title=Text("Địa hình (bóng đổ)", "Terrain (hillshade)"),
            description=Text(
                "Bóng đổ địa hình tính từ độ cao SRTM.", "Hillshade computed from SRTM elevation."
            ),
            **common,
        )
    )
