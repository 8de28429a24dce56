"""Geometry validation shared by the admin forms, the service functions and the APIs."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry
from django.utils.translation import gettext as _


def validate_geometry(geom: GEOSGeometry | None, field=None) -> list[str]:
    """Human-readable problems with ``geom`` (empty list when it is fine).

    Checks: present, not empty, valid (with GEOS's reason), of the field's type, inside Vietnam.
    """
    if geom is None:
        return [_("Thiếu hình học (geometry).")]
    if geom.empty:
        return [_("Hình học rỗng.")]
    problems = []
    if not geom.valid:
        problems.append(_("Hình học không hợp lệ: %(reason)s") % {"reason": geom.valid_reason})
    if field is not None:
        expected = field.geom_type.upper()
        if expected != "GEOMETRY" and geom.geom_type.upper() != expected:
            problems.append(
                _("Sai kiểu hình học: cần %(expected)s, nhận %(got)s")
                % {"expected": field.geom_type, "got": geom.geom_type}
            )
    if geom.srid and geom.srid != 4326:
        geom = geom.transform(4326, clone=True)
    minx, miny, maxx, maxy = geom.extent
    vminx, vminy, vmaxx, vmaxy = settings.IOC_VIETNAM_BBOX
    if minx < vminx or miny < vminy or maxx > vmaxx or maxy > vmaxy:
        centre = geom.centroid
        problems.append(
            _("Vị trí nằm ngoài lãnh thổ Việt Nam (kinh độ %(x).5f, vĩ độ %(y).5f).")
            % {"x": centre.x, "y": centre.y}
        )
    return problems
