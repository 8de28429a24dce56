"""Which coordinate reference system a file is really in, and whether its axes are swapped.

A declared CRS (``.prj``, GeoPackage, GeoJSON's WGS 84) is honoured, except that VN-2000
definitions are replaced by ``geo.crs``'s entries carrying the official datum shift (EPSG's
own often carry none: ~224 m off). Without a usable declaration we try every VN-2000
candidate — geographic EPSG:4756, UTM 48N/49N and each provincial TM-3 zone — and WGS 84, in
both axis orders (survey tables label northing as X), and keep the one that puts the sample
inside the province, preferring the province's own TM-3 zone as the cadastral rules do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from pyproj import CRS, Transformer

from geo import crs as georegistry
from importers.errors import CRSNotDetected

# The margin around the province's bbox still counted as "inside" (degrees).
MARGIN = 0.05


@dataclass
class CRSChoice:
    code: str | None  # registry code, or None for a declared CRS outside the registry
    title: str
    confidence: str  # "declared" | "high" | "medium" | "low"
    swapped: bool = False
    declared: str | None = None
    reason: str = ""
    candidates: list[dict[str, Any]] = field(default_factory=list)
    _transformer: Transformer | None = None

    def transform(self, xy: np.ndarray) -> np.ndarray:
        """(n, 2) source coordinates → (n, 2) lon/lat WGS 84."""
        if self.swapped:
            xy = xy[:, ::-1]
        if self._transformer is None:
            return np.ascontiguousarray(xy, dtype=float)
        x, y = self._transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "confidence": self.confidence,
            "swapped_axes": self.swapped,
            "declared": self.declared,
            "reason": self.reason,
            "candidates": self.candidates,
        }


def _inside(lonlat: np.ndarray, bbox: tuple[float, ...], margin: float = 0.0) -> float:
    if len(lonlat) == 0:
        return 0.0
    x, y = lonlat[:, 0], lonlat[:, 1]
    ok = (
        np.isfinite(x)
        & np.isfinite(y)
        & (x >= bbox[0] - margin)
        & (x <= bbox[2] + margin)
        & (y >= bbox[1] - margin)
        & (y <= bbox[3] + margin)
    )
    return float(ok.mean())


def _registry_transformer(code: str) -> Transformer | None:
    if code in ("EPSG:4326", "OGC:CRS84"):
        return None
    return georegistry.transformer(code, "OGC:CRS84")


def _is_generic(crs: CRS | None) -> bool:
    if crs is None:
        return True
    if crs.is_engineering or not (crs.is_geographic or crs.is_projected):
        return True
    return (
        "unknown" in (crs.datum.name if crs.datum else "unknown").lower() and crs.to_epsg() is None
    )


def _vn2000_match(crs: CRS) -> str | None:
    """The registry code of a declared VN-2000 CRS (so the official shift is used)."""
    epsg = crs.to_epsg()
    if epsg and f"EPSG:{epsg}" in georegistry.CRS_REGISTRY and epsg not in (4326, 3857):
        return f"EPSG:{epsg}"
    datum = (crs.datum.name if crs.datum else "").lower().replace(" ", "").replace("_", "")
    if "vn2000" not in datum and "vietnam2000" not in datum and "vn-2000" not in datum:
        return None
    if crs.is_geographic:
        return "EPSG:4756"
    params = crs.to_dict()
    lon_0, k = params.get("lon_0"), params.get("k", params.get("k_0"))
    if params.get("proj") == "utm":
        return {48: "EPSG:3405", 49: "EPSG:3406"}.get(params.get("zone"))
    for code, central in georegistry.TM3_ZONES.items():
        if lon_0 is not None and abs(lon_0 - central) < 1e-6 and k and abs(k - 0.9999) < 1e-6:
            return code
    if lon_0 is not None and k and abs(k - 0.9996) < 1e-6:
        return {105.0: "EPSG:3405", 111.0: "EPSG:3406"}.get(round(lon_0, 6))
    return None


def _candidates() -> list[tuple[str, int]]:
    """(code, preference): the province's TM-3 zone first, as cadastral practice dictates."""
    out = [(georegistry.PROVINCE_TM3_ZONE, 5), ("EPSG:3405", 4), ("EPSG:3406", 3)]
    out += [(code, 2) for code in georegistry.TM3_ZONES if code != georegistry.PROVINCE_TM3_ZONE]
    return out


def _looks_geographic(xy: np.ndarray) -> bool:
    return bool(np.nanmax(np.abs(xy)) <= 180.0)


def detect(sample_xy: np.ndarray, declared: CRS | None, *, forced: str | None = None) -> CRSChoice:
    """Choose the CRS of a file from its declaration and a sample of its coordinates."""
    province = settings.IOC_PROVINCE_BBOX
    vietnam = settings.IOC_VIETNAM_BBOX
    xy = sample_xy[np.isfinite(sample_xy).all(axis=1)] if len(sample_xy) else sample_xy

    def evaluate(code: str, swapped: bool) -> tuple[float, float]:
        choice = CRSChoice(code, "", "", swapped, _transformer=_registry_transformer(code))
        lonlat = choice.transform(xy)
        return _inside(lonlat, province, MARGIN), _inside(lonlat, vietnam)

    if forced:
        entry = georegistry.lookup(forced)
        in_province, _in_vn = evaluate(entry.code, False)
        swapped = False
        if in_province < 0.5 and evaluate(entry.code, True)[0] > in_province:
            swapped = True
        return CRSChoice(
            entry.code,
            entry.title,
            "declared",
            swapped,
            declared=forced,
            reason="--srs",
            _transformer=_registry_transformer(entry.code),
        )

    declared_text = None
    if not _is_generic(declared):
        declared_text = declared.name
        code = _vn2000_match(declared)
        if code is None and declared.to_epsg() in (4326,):
            code = "EPSG:4326"
        if code is not None:
            entry = georegistry.lookup(code)
            transformer = _registry_transformer(entry.code)
        else:
            entry = None
            transformer = Transformer.from_crs(declared, CRS.from_epsg(4326), always_xy=True)
        choice = CRSChoice(
            entry.code if entry else None,
            entry.title if entry else declared.name,
            "declared",
            declared=declared_text,
            reason="CRS khai báo trong tệp / CRS declared in the file",
            _transformer=transformer,
        )
        lonlat = choice.transform(xy)
        if len(xy) == 0 or _inside(lonlat, vietnam) >= 0.99:
            return choice
        choice.swapped = True
        if _inside(choice.transform(xy), vietnam) >= 0.99:
            choice.reason += "; trục X/Y bị đảo / axes swapped"
            return choice
        # The declaration puts the data outside Vietnam: fall through to detection.

    if len(xy) == 0:
        raise CRSNotDetected(
            "Không có toạ độ nào để xác định hệ toạ độ.",
            "No coordinates to detect the coordinate system from.",
        )
    scored = []
    if _looks_geographic(xy):
        options = [("EPSG:4326", 5), ("EPSG:4756", 1)]
    else:
        options = _candidates()
    for code, preference in options:
        for swapped in (False, True):
            in_province, in_vn = evaluate(code, swapped)
            if in_vn >= 0.99:
                scored.append((round(in_province, 3), preference, not swapped, code, swapped))
    if not scored:
        raise CRSNotDetected(
            "Không xác định được hệ toạ độ: toạ độ không nằm trong Việt Nam theo WGS 84, "
            "VN-2000 (kinh vĩ độ, UTM 48/49, múi chiếu 3° các tỉnh). Hãy dùng --srs EPSG:xxxx.",
            "Could not detect the coordinate system: the coordinates fall outside Vietnam in "
            "WGS 84 and every VN-2000 option (geographic, UTM 48/49, provincial TM-3 zones). "
            "Pass --srs EPSG:xxxx.",
            declared=declared_text,
        )
    scored.sort(reverse=True)
    in_province, _pref, _, code, swapped = scored[0]
    fitting = [s for s in scored if s[0] >= 0.99]
    if code == "EPSG:4326":
        confidence = "medium"  # WGS 84 and VN-2000 lon/lat differ by ~200 m: indistinguishable
    elif in_province >= 0.99 and code == georegistry.PROVINCE_TM3_ZONE:
        confidence = "high"
    elif in_province >= 0.99 and len(fitting) == 1:
        confidence = "high"
    elif in_province >= 0.99:
        confidence = "medium"
    else:
        confidence = "low"
    entry = georegistry.lookup(code)
    return CRSChoice(
        entry.code,
        entry.title,
        confidence,
        swapped,
        declared=declared_text,
        reason=(
            "Phát hiện từ phạm vi toạ độ / detected from the coordinate ranges"
            + ("; trục X/Y bị đảo / axes swapped" if swapped else "")
        ),
        candidates=[
            {"code": c, "swapped_axes": s, "share_in_province": p}
            for p, _pr, _n, c, s in scored[:6]
        ],
        _transformer=_registry_transformer(entry.code),
    )
