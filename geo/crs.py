"""The CRS registry: every coordinate reference system the platform accepts or serves.

VN-2000 needs care. EPSG's own VN-2000 definitions carry no usable datum shift in many PROJ
databases, and the shift published in Decision 05/2007/QĐ-BTNMT is written in the
coordinate-frame convention: copying its rotation signs into PROJ's position-vector
``+towgs84`` moves points by about 0.77 m, and dropping the shift moves them by ~224 m.
So every VN-2000 CRS here is built from PROJ strings with the official shift in
position-vector form (see the data README).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pyproj import CRS, Transformer

# Decision 05/2007/QĐ-BTNMT (EPSG:6960), converted to PROJ's position-vector convention.
VN2000_TOWGS84 = (
    "-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,0.00427372,0.252906278"
)
_VN2000_DATUM = f"+ellps=WGS84 +towgs84={VN2000_TOWGS84} +units=m +no_defs +type=crs"

CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


@dataclass(frozen=True)
class CRSDef:
    code: str  # "EPSG:4326", "OGC:CRS84"
    title: str
    proj: str | None  # PROJ string when EPSG's own definition must not be used
    axis_lonlat: bool  # True when coordinates are served as lon/lat (x=east)

    @property
    def uri(self) -> str:
        if self.code == "OGC:CRS84":
            return CRS84_URI
        authority, number = self.code.split(":", 1)
        return f"http://www.opengis.net/def/crs/{authority}/0/{number}"

    @property
    def srid(self) -> int | None:
        """The PostGIS SRID (None for project-local codes PostGIS doesn't know)."""
        if self.code == "OGC:CRS84":
            return 4326
        authority, number = self.code.split(":", 1)
        return int(number) if authority == "EPSG" else None

    def pyproj(self) -> CRS:
        return _pyproj_crs(self.code)


def _tm3(lon_0: float) -> str:
    return f"+proj=tmerc +lat_0=0 +lon_0={lon_0} +k=0.9999 +x_0=500000 +y_0=0 {_VN2000_DATUM}"


def _utm(zone: int) -> str:
    return f"+proj=utm +zone={zone} {_VN2000_DATUM}"


# Provincial TM-3 zones of VN-2000 (central meridian → code). EPSG defines most of them
# (EPSG:9205–9218); the three it lacks get project-local "IOC:" codes so importers can still
# detect and report them. Thái Nguyên and Bắc Kạn use 106°30' (EPSG:9213).
TM3_ZONES: dict[str, float] = {
    "EPSG:9205": 103.0,
    "EPSG:9206": 104.0,
    "EPSG:9207": 104.5,
    "EPSG:9208": 104.75,
    "IOC:TM3-105-00": 105.0,
    "EPSG:9209": 105.5,
    "EPSG:9210": 105.75,
    "EPSG:9211": 106.0,
    "EPSG:9212": 106.25,
    "EPSG:9213": 106.5,
    "EPSG:9214": 107.0,
    "EPSG:9215": 107.25,
    "EPSG:9216": 107.5,
    "IOC:TM3-107-45": 107.75,
    "IOC:TM3-108-00": 108.0,
    "EPSG:9217": 108.25,
    "EPSG:9218": 108.5,
}
PROVINCE_TM3_ZONE = "EPSG:9213"


def _tm3_title(lon_0: float) -> str:
    degrees, minutes = int(lon_0), round((lon_0 - int(lon_0)) * 60)
    return f"VN-2000 / TM-3 {degrees}-{minutes:02d}"


CRS_REGISTRY: dict[str, CRSDef] = {
    "OGC:CRS84": CRSDef("OGC:CRS84", "WGS 84 (lon/lat)", None, True),
    "EPSG:4326": CRSDef("EPSG:4326", "WGS 84", None, False),
    "EPSG:3857": CRSDef("EPSG:3857", "WGS 84 / Pseudo-Mercator", None, True),
    "EPSG:4756": CRSDef(
        "EPSG:4756", "VN-2000", f"+proj=longlat {_VN2000_DATUM}".replace("+units=m ", ""), False
    ),
    "EPSG:3405": CRSDef("EPSG:3405", "VN-2000 / UTM zone 48N", _utm(48), True),
    "EPSG:3406": CRSDef("EPSG:3406", "VN-2000 / UTM zone 49N", _utm(49), True),
    **{code: CRSDef(code, _tm3_title(lon), _tm3(lon), True) for code, lon in TM3_ZONES.items()},
}

# The CRSs the OGC API advertises (Features Part 2); the TM-3 zones other than the
# province's own stay importer-only to keep the collection documents short.
SERVED_CRS = (
    "OGC:CRS84",
    "EPSG:4326",
    "EPSG:3857",
    "EPSG:4756",
    "EPSG:3405",
    "EPSG:3406",
    "EPSG:9213",
)


class UnknownCRS(ValueError):
    """A CRS identifier that is not in the registry."""


def lookup(identifier: str) -> CRSDef:
    """Resolve an EPSG code, an OGC URI or CURIE ("[EPSG:4326]") to a registry entry."""
    key = identifier.strip().strip("[]")
    if key.startswith("http://www.opengis.net/def/crs/"):
        authority, _version, number = key.rsplit("/", 3)[-3:]
        key = f"{authority}:{number}"
    key = key.upper()
    if key in {"CRS84", "OGC:CRS84"}:
        key = "OGC:CRS84"
    try:
        return CRS_REGISTRY[key]
    except KeyError:
        raise UnknownCRS(identifier) from None


@cache
def _pyproj_crs(code: str) -> CRS:
    entry = CRS_REGISTRY[code]
    if entry.proj:
        return CRS.from_proj4(entry.proj)
    if code == "OGC:CRS84":
        return CRS.from_user_input("OGC:CRS84")
    return CRS.from_user_input(code)


@cache
def transformer(source: str, target: str) -> Transformer:
    """A cached, always_xy transformer between two registry CRSs (lon/lat order for geographic)."""
    return Transformer.from_crs(
        _pyproj_crs(lookup(source).code), _pyproj_crs(lookup(target).code), always_xy=True
    )


def postgis_srtext(code: str) -> str | None:
    """The PROJ string PostGIS must use for ``code`` (None when PostGIS's own is correct)."""
    return lookup(code).proj
