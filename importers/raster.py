"""Raster import: any GDAL raster → a Cloud-Optimised GeoTIFF in EPSG:3857 with overviews,
registered as a raster layer that the tiles side (``tiles/raster.py``, MapProxy) serves.

The COG and a small JSON sidecar (title, renderer, bounds) live in
``settings.IMPORTERS_RASTER_DIR``; ``register_imported_rasters`` (called at start-up) turns
each into a ``RasterLayer``. A re-import writes a temporary file and ``os.replace``s it, so
readers never see half a file, then clears the layer's derived COG and tile caches.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from importers.errors import ImportFailed, UnreadableSource

LAYER_ID = re.compile(r"^[a-z][a-z0-9_]{1,48}$")


class RasterImportError(ImportFailed):
    code = "raster_import"


@dataclass
class RasterReport:
    layer: str
    source: str
    output: str = ""
    crs: str = ""
    size: tuple[int, int] = (0, 0)
    bands: int = 0
    overviews: list[int] = field(default_factory=list)
    bounds: list[float] = field(default_factory=list)
    replaced: bool = False
    registered_now: bool = False
    notes: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        lines = [
            f"Nhập ảnh / raster import: {self.source} → {self.layer}",
            f"  Hệ toạ độ nguồn / source CRS: {self.crs}",
            f"  COG EPSG:3857: {self.output} ({self.size[0]}×{self.size[1]}, {self.bands} "
            f"kênh / bands, tổng quan / overviews {self.overviews})",
            f"  Phạm vi / bounds (lon/lat): {', '.join(f'{v:.5f}' for v in self.bounds)}",
            "  Thay thế bản cũ / replaced the previous raster"
            if self.replaced
            else "  Lớp mới / new layer",
        ]
        lines += [f"  Ghi chú / note: {n}" for n in self.notes]
        return "\n".join(lines)


def _raster_dir() -> Path:
    path = Path(settings.IMPORTERS_RASTER_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _source_crs(src) -> Any:
    """The raster's CRS, with VN-2000 replaced by the registry's (official datum shift)."""
    from pyproj import CRS as PyCRS
    from rasterio.crs import CRS

    from geo import crs as georegistry
    from importers.crsdetect import _vn2000_match

    if src.crs is None:
        return None
    code = _vn2000_match(PyCRS.from_wkt(src.crs.to_wkt()))
    if code:
        return CRS.from_wkt(georegistry.lookup(code).pyproj().to_wkt())
    return src.crs


def import_raster(
    path: str | Path,
    layer_id: str,
    *,
    title: str | None = None,
    render: str = "relief",
    srs: str | None = None,
    actor: str = "importer",
) -> RasterReport:
    import rasterio
    from rasterio.crs import CRS
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT
    from rasterio.warp import transform_bounds
    from rio_cogeo.cogeo import cog_translate, cog_validate
    from rio_cogeo.profiles import cog_profiles

    from layers.registry import RasterLayer, registry

    path = Path(path)
    if not LAYER_ID.match(layer_id):
        raise RasterImportError(
            "Mã lớp chỉ gồm chữ thường, số và _ (bắt đầu bằng chữ).",
            "A layer id is lower-case letters, digits and _ (starting with a letter).",
        )
    existing = registry.get(layer_id) if layer_id in registry else None
    out_dir = _raster_dir()
    target = out_dir / f"{layer_id}.tif"
    if existing is not None:
        if not isinstance(existing, RasterLayer) or Path(existing.source) != target:
            raise RasterImportError(
                f"Lớp “{layer_id}” đã có và không phải lớp ảnh do trình nhập quản lý.",
                f"Layer {layer_id!r} exists and is not a raster layer managed by the importer.",
            )
    from tiles.raster import RENDERERS

    if render not in RENDERERS:
        raise RasterImportError(
            f"Không có cách hiển thị “{render}”; dùng: {', '.join(RENDERERS)}",
            f"No renderer {render!r}; use one of: {', '.join(RENDERERS)}",
        )
    if not path.exists() or path.stat().st_size == 0:
        raise UnreadableSource(f"Không có tệp hoặc tệp rỗng: {path}", f"Missing or empty: {path}")
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise UnreadableSource(
            f"{path.name} không phải ảnh raster GDAL đọc được: {exc}",
            f"{path.name} is not a raster GDAL can read: {exc}",
        ) from exc
    report = RasterReport(layer=layer_id, source=str(path))
    with src:
        src_crs = CRS.from_user_input(srs) if srs else _source_crs(src)
        if src_crs is None:
            raise RasterImportError(
                f"{path.name} không khai báo hệ toạ độ; dùng --srs EPSG:xxxx.",
                f"{path.name} declares no CRS; pass --srs EPSG:xxxx.",
            )
        report.crs = src_crs.to_string()[:120]
        bounds = transform_bounds(src_crs, "EPSG:4326", *src.bounds, densify_pts=21)
        vb = settings.IOC_VIETNAM_BBOX
        if bounds[2] < vb[0] or bounds[0] > vb[2] or bounds[3] < vb[1] or bounds[1] > vb[3]:
            raise RasterImportError(
                f"Ảnh nằm ngoài Việt Nam ({', '.join(f'{b:.3f}' for b in bounds)}): sai hệ toạ độ?",
                f"The raster lies outside Vietnam ({', '.join(f'{b:.3f}' for b in bounds)}): "
                "wrong CRS?",
            )
        report.bounds = [round(b, 6) for b in bounds]
        tmp = out_dir / f".{layer_id}.{os.getpid()}.tmp.tif"
        profile = cog_profiles.get("deflate")
        try:
            with WarpedVRT(
                src,
                src_crs=src_crs,
                crs="EPSG:3857",
                resampling=Resampling.bilinear,
                nodata=src.nodata,
            ) as vrt:
                # Overviews down to one 256-px tile, and at least one level: zoomed-out
                # tiles then never read full resolution.
                levels = max(1, math.ceil(math.log2(max(vrt.width, vrt.height) / 256)))
                cog_translate(
                    vrt,
                    str(tmp),
                    profile | {"blockxsize": 256, "blockysize": 256},
                    quiet=True,
                    overview_resampling="average",
                    overview_level=levels,
                    nodata=src.nodata,
                    in_memory=False,
                )
            valid, errors, _warnings = cog_validate(str(tmp))
            if not valid:
                raise RasterImportError(
                    "COG tạo ra không hợp lệ: " + "; ".join(errors),
                    "The COG written is not valid: " + "; ".join(errors),
                )
            with rasterio.open(tmp) as cog:
                report.size = (cog.width, cog.height)
                report.bands = cog.count
                report.overviews = cog.overviews(1)
            report.replaced = target.exists()
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    report.output = str(target)
    meta = {
        "id": layer_id,
        "title": title or layer_id,
        "render": render,
        "bounds": report.bounds,
        "source_name": path.name,
        "imported_at": timezone.now().isoformat(),
        "imported_by": actor,
    }
    sidecar = target.with_suffix(".json")
    tmp_meta = sidecar.with_suffix(".json.tmp")
    tmp_meta.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp_meta, sidecar)
    if existing is not None:
        from tiles.raster import clear_raster_cache

        clear_raster_cache(layer_id)
        report.notes.append("Đã xoá bộ đệm ảnh của lớp / the layer's raster cache was cleared")
    else:
        report.registered_now = register_imported_rasters() > 0
        report.notes.append(
            "Lớp mới được phục vụ sau khi khởi động lại máy chủ / a new layer is served after "
            "the server restarts"
        )
    return report


def register_imported_rasters() -> int:
    """Register a RasterLayer for every COG the importer wrote (start-up and after imports)."""
    from layers.registry import RasterLayer, Text, registry

    directory = Path(settings.IMPORTERS_RASTER_DIR)
    if not directory.is_dir():
        return 0
    added = 0
    for sidecar in sorted(directory.glob("*.json")):
        cog = sidecar.with_suffix(".tif")
        if not cog.exists():
            continue
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        layer_id = meta.get("id") or sidecar.stem
        if layer_id in registry:
            continue
        title = meta.get("title") or layer_id
        registry.register(
            RasterLayer(
                id=layer_id,
                title=Text(title, title),
                description=Text(
                    f"Ảnh nhập từ {meta.get('source_name', '')}",
                    f"Raster imported from {meta.get('source_name', '')}",
                ),
                group="relief",
                source=str(cog),
                render=meta.get("render", "relief"),
                bounds=tuple(meta["bounds"]) if meta.get("bounds") else None,
                visible_by_default=False,
            )
        )
        added += 1
    return added
