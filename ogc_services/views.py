"""The /ogc views: authenticate, check the registry, then answer or hand over to pygeoapi.

Reads of features as GeoJSON are answered by our query engine (one SQL statement per page);
landing page, conformance, collections, OpenAPI, HTML pages and Records go through
pygeoapi's API object (built once per visibility profile, ``ogc_services/config.py``).
Transactions (Features Part 4) go through ``layers/services.py`` with ETag/If-Match.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlencode

import numpy as np
import shapely
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from geo import crs as crs_registry
from layers import services
from layers.models import FeatureHistory
from layers.registry import FeatureLayer, UnknownLayer, registry
from ogc_services import cql, query
from ogc_services.auth import (
    Caller,
    authenticate_request,
    reset_current_caller,
    set_current_caller,
    unauthorized,
)
from ogc_services.config import CATALOG_ID, get_api
from ogc_services.errors import OGCError, bad_request, error_response, not_found
from ogc_services.provider import field_schema

logger = logging.getLogger(__name__)

GEOJSON = "application/geo+json"
JSON_TYPES = {"application/geo+json", "application/json", "application/merge-patch+json"}

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/landing-page",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/optimistic-locking-etags",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/record-core",
    *cql.CONFORMANCE,
]

# Every /ogc answer depends on who asks and in which format
VARY = ("Authorization", "Cookie", "Accept")

_base: ContextVar[str] = ContextVar("ogc_base", default="")


def base_url(request: HttpRequest) -> str:
    root = settings.PUBLIC_URL or f"{request.scheme}://{request.get_host()}"
    return f"{root}/ogc"


def base_url_from_context() -> str:
    return _base.get()


def ogc_endpoint(view):
    """Authenticate, publish the caller to providers, turn OGCError into OGC exceptions."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            caller = authenticate_request(request)
        except OGCError as exc:
            return error_response(exc)
        token = set_current_caller(caller)
        base_token = _base.set(base_url(request))
        try:
            response = view(request, caller, *args, **kwargs)
        except OGCError as exc:
            response = error_response(exc)
        except services.ServiceError as exc:
            response = error_response(OGCError(exc.status, exc.code, exc.message))
        finally:
            reset_current_caller(token)
            _base.reset(base_token)
        if request.method == "HEAD":
            response.content = b""
        response.setdefault("Vary", ", ".join(VARY))
        return response

    return wrapper


def response_format(f: str, accept: str) -> str:
    """ "json" or "html" from the ``f`` parameter, else from the Accept header."""
    f = f.lower()
    if f in ("json", "geojson", "jsonld"):
        return "json"
    if f == "html":
        return "html"
    if f:
        raise OGCError(
            400, "InvalidParameterValue", f"Định dạng không hỗ trợ / Unsupported f={f!r}"
        )
    if "text/html" in accept and "json" not in accept.split("text/html")[0]:
        return "html"
    return "json"


def _format(request: HttpRequest) -> str:
    return response_format(request.GET.get("f") or "", request.META.get("HTTP_ACCEPT", ""))


def _pygeoapi(request: HttpRequest, caller: Caller, func, *args) -> HttpResponse:
    from pygeoapi.api import APIRequest

    api = get_api(base_url(request), caller.visible_ids())
    api_request = APIRequest.from_django(request, api.locales)
    if not api_request.is_valid():
        headers, status, content = api.get_format_exception(api_request)
    else:
        headers, status, content = func(api, api_request, *args)
    response = HttpResponse(content, status=status)
    for key, value in headers.items():
        response[key] = value
    return response


def collection_layer(caller: Caller, collection_id: str) -> FeatureLayer:
    """The feature layer of a collection ``caller`` may see; 404 (OGCError) otherwise."""
    try:
        layer = registry.get(collection_id)
    except UnknownLayer:
        raise not_found(f"Không có lớp / No collection {collection_id!r}") from None
    if not isinstance(layer, FeatureLayer) or not caller.can_view(layer):
        raise not_found(f"Không có lớp / No collection {collection_id!r}")
    return layer


# --- Landing, conformance, collections, OpenAPI (pygeoapi) ---
@ogc_endpoint
def landing(request: HttpRequest, caller: Caller) -> HttpResponse:
    import pygeoapi.api as core_api

    _format(request)
    return _pygeoapi(request, caller, core_api.landing_page)


@ogc_endpoint
def conformance(request: HttpRequest, caller: Caller) -> HttpResponse:
    import pygeoapi.api as core_api

    if _format(request) == "html":
        return _pygeoapi(request, caller, core_api.conformance)
    return _json({"conformsTo": CONFORMANCE})


@ogc_endpoint
def openapi(request: HttpRequest, caller: Caller) -> HttpResponse:
    import pygeoapi.api as core_api

    return _pygeoapi(request, caller, core_api.openapi_)


@ogc_endpoint
def collections(request: HttpRequest, caller: Caller) -> HttpResponse:
    import pygeoapi.api as core_api

    _format(request)
    return _pygeoapi(request, caller, core_api.describe_collections)


@ogc_endpoint
def collection(request: HttpRequest, caller: Caller, collection_id: str) -> HttpResponse:
    import pygeoapi.api as core_api

    _format(request)
    if collection_id != CATALOG_ID:
        collection_layer(caller, collection_id)
    return _pygeoapi(request, caller, core_api.describe_collections, collection_id)


@ogc_endpoint
def queryables(request: HttpRequest, caller: Caller, collection_id: str) -> HttpResponse:
    if collection_id == CATALOG_ID:
        import pygeoapi.api.itemtypes as itemtypes_api

        return _pygeoapi(request, caller, itemtypes_api.get_collection_queryables, collection_id)
    layer = collection_layer(caller, collection_id)
    geometry_format = {
        "Point": "geometry-point",
        "MultiPoint": "geometry-multipoint",
        "LineString": "geometry-linestring",
        "MultiLineString": "geometry-multilinestring",
        "Polygon": "geometry-polygon",
        "MultiPolygon": "geometry-multipolygon",
    }.get(query.geometry_type(layer), "geometry-any")
    props: dict[str, Any] = {
        "geometry": {"format": geometry_format, "x-ogc-role": "primary-geometry"},
    }
    for name, model_field in query.queryable_fields(layer, caller.fields(layer)).items():
        props[name] = field_schema(model_field)
    return _json(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{base_url(request)}/collections/{layer.id}/queryables",
            "type": "object",
            "title": str(layer.title),
            "properties": props,
            "additionalProperties": False,
        },
        content_type="application/schema+json",
    )


# --- Items ---
def _json(data: Any, status: int = 200, content_type: str = "application/json") -> HttpResponse:
    return HttpResponse(
        json.dumps(data, ensure_ascii=False, default=str), status=status, content_type=content_type
    )


def items_params(query_dict) -> dict[str, str]:
    """The query parameters of /items that select features (a QueryDict: the last value of a
    repeated key, as Django's ``GET.get``)."""
    return {k: v for k, v in query_dict.items() if k not in ("f", "lang")}


def _allow(caller: Caller, layer: FeatureLayer, item: bool, patch: bool = False) -> str:
    """The Allow header. PATCH is served but not advertised in OPTIONS: QGIS ≥ 3.32 switches
    to PATCH when it sees it, and its PATCH carries no precondition (→ 428), while its PUT
    sends the whole feature with the version it read (docs/decisions.md)."""
    verbs = ["GET", "HEAD", "OPTIONS"]
    if caller.can_edit(layer):
        verbs += (["PUT", "PATCH", "DELETE"] if patch else ["PUT", "DELETE"]) if item else ["POST"]
    return ", ".join(verbs)


@dataclass(frozen=True)
class ItemsPlan:
    """What one /items page needs besides the database: the parsed query, its statement and
    the start of its paging links. Built per request by the view; the fast path remembers
    plans per query string (ogc_services/fastpath.py)."""

    ogc_url: str
    params: dict[str, str]
    parsed: query.ItemsQuery
    statement: tuple[str, list[Any]] | None  # None: the request can match nothing
    selecting: str  # the links' URL up to the format and offset


def items_plan(ogc_url: str, params: dict[str, str], parsed: query.ItemsQuery) -> ItemsPlan:
    base = f"{ogc_url}/collections/{parsed.layer.id}/items"
    # the selecting parameters, encoded once for every link of the page
    selecting = urlencode({k: v for k, v in params.items() if k != "offset"})
    selecting = f"{base}?{selecting}&" if selecting else f"{base}?"
    statement = None if parsed.empty else query.page_statement(parsed)
    return ItemsPlan(ogc_url, params, parsed, statement, selecting)


def _page_links(plan: ItemsPlan, returned: int, matched: int | None) -> list[dict[str, Any]]:
    items, params, selecting = plan.parsed, plan.params, plan.selecting
    layer = items.layer

    def href(offset: int | None = None, fmt: str = "json") -> str:
        if offset is None:
            offset = params.get("offset")
        if offset is None:
            return f"{selecting}f={fmt}"
        return f"{selecting}f={fmt}&offset={quote_plus(str(offset))}"

    links = [
        {"rel": "self", "type": GEOJSON, "title": "GeoJSON", "href": href()},
        {"rel": "alternate", "type": "text/html", "title": "HTML", "href": href(fmt="html")},
        {
            "rel": "collection",
            "type": "application/json",
            "href": f"{plan.ogc_url}/collections/{layer.id}",
        },
    ]
    more = returned == items.limit and (matched is None or items.offset + returned < matched)
    if more:
        links.append({"rel": "next", "type": GEOJSON, "href": href(items.offset + items.limit)})
    if items.offset > 0:
        links.append(
            {"rel": "prev", "type": GEOJSON, "href": href(max(0, items.offset - items.limit))}
        )
    return links


@ogc_endpoint
def items(request: HttpRequest, caller: Caller, collection_id: str) -> HttpResponse:
    if collection_id == CATALOG_ID:
        import pygeoapi.api.itemtypes as itemtypes_api

        if request.method not in ("GET", "HEAD"):
            raise OGCError(405, "MethodNotAllowed", "Danh mục chỉ đọc / The catalogue is read-only")
        return _pygeoapi(request, caller, itemtypes_api.get_collection_items, collection_id)
    layer = collection_layer(caller, collection_id)
    if request.method == "OPTIONS":
        response = HttpResponse(status=204)
        response["Allow"] = _allow(caller, layer, item=False)
        return response
    if request.method == "POST":
        return _create(request, caller, layer)
    if request.method not in ("GET", "HEAD"):
        return _not_allowed(caller, layer, item=False)
    params = items_params(request.GET)
    parsed = query.parse_items(layer, caller.fields(layer), params)
    if _format(request) == "html":
        import pygeoapi.api.itemtypes as itemtypes_api

        return _pygeoapi(request, caller, itemtypes_api.get_collection_items, collection_id)
    body = items_body(items_plan(base_url(request), params, parsed))
    response = HttpResponse(body, content_type=GEOJSON)
    response["Content-Crs"] = f"<{parsed.crs.uri}>"
    return response


def items_body(plan: ItemsPlan) -> bytes:
    """The GeoJSON FeatureCollection of one /items page (this view and ogc_services/fastpath.py):
    the features as PostgreSQL wrote them, then the counts and the paging links."""
    page = query.fetch_page(plan.parsed, plan.statement)
    tail: dict[str, Any] = {}
    if page.matched is not None:
        tail["numberMatched"] = page.matched
    tail["numberReturned"] = page.returned
    tail["timeStamp"] = query.now_stamp()
    tail["links"] = _page_links(plan, page.returned, page.matched)
    return (
        b'{"type":"FeatureCollection","features":['
        + page.features
        + b"],"
        + json.dumps(tail, ensure_ascii=False)[1:].encode()
    )


def etag(layer: FeatureLayer, pk: Any, version: int) -> str:
    return f'"{layer.id}.{pk}.v{version}"'


ETAG_RE = re.compile(r'^"(?P<layer>[\w-]+)\.(?P<pk>\d+)\.v(?P<version>\d+)"$')
UNCONDITIONAL_DELETE_HEADER = "IOC-Unconditional-Delete"


def _precondition_required(what: str) -> OGCError:
    return OGCError(
        428,
        "PreconditionRequired",
        f"Cần điều kiện phiên bản: {what} / A version precondition is required: {what}",
    )


def _if_match_version(request: HttpRequest, layer: FeatureLayer, pk: int) -> int | None:
    """The version named by ``If-Match`` (None when absent or ``*``, which names no version).

    Strong comparison (RFC 9110 §13.1.1): a weak or foreign ETag never matches → 412. With
    several ETags the one naming the current version is used; the service re-checks it under
    the row lock, so a concurrent edit between this read and the write is still a 412.
    """
    raw = request.META.get("HTTP_IF_MATCH", "").strip()
    if not raw or raw == "*":
        return None
    versions = set()
    for tag in (t.strip() for t in raw.split(",")):
        match = ETAG_RE.match(tag)
        if match and match["layer"] == layer.id and int(match["pk"]) == pk:
            versions.add(int(match["version"]))
    if not versions:
        raise OGCError(
            412, "PreconditionFailed", "ETag không khớp đối tượng này / ETag does not match"
        )
    if len(versions) == 1:
        return versions.pop()
    found = query.fetch_feature(layer, {}, query.served_crs(None), pk, skip_geometry=True)
    if found is None:
        raise not_found(f"Không có đối tượng / No item {pk} in {layer.id}")
    return found[1] if found[1] in versions else min(versions)


def _body_version(data: dict[str, Any]) -> int | None:
    """``properties.version`` of a PUT/PATCH body: the version the client read (QGIS sends the
    whole feature back, version included, and no If-Match)."""
    props = data.get("properties")
    if not isinstance(props, dict) or props.get("version") is None:
        return None
    value = props["version"]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_request(
            "version phải là số nguyên dương / version must be a positive integer",
            "InvalidFeature",
        )
    return value


def _feature_response(
    request, caller: Caller, layer: FeatureLayer, pk: int, status: int = 200, crs=None
) -> HttpResponse:
    crs = crs or query.served_crs(None)
    fields = query.queryable_fields(layer, caller.fields(layer))
    found = query.fetch_feature(layer, fields, crs, pk)
    if found is None:
        raise not_found(f"Không có đối tượng / No item {pk} in {layer.id}")
    text, version = found
    feature = json.loads(text)
    feature["links"] = [
        {
            "rel": "self",
            "type": GEOJSON,
            "href": f"{base_url(request)}/collections/{layer.id}/items/{pk}",
        },
        {
            "rel": "collection",
            "type": "application/json",
            "href": f"{base_url(request)}/collections/{layer.id}",
        },
    ]
    response = HttpResponse(
        json.dumps(feature, ensure_ascii=False), status=status, content_type=GEOJSON
    )
    response["ETag"] = etag(layer, pk, version)
    response["Content-Crs"] = f"<{crs.uri}>"
    return response


@ogc_endpoint
def item(request: HttpRequest, caller: Caller, collection_id: str, item_id: str) -> HttpResponse:
    if collection_id == CATALOG_ID:
        import pygeoapi.api.itemtypes as itemtypes_api

        return _pygeoapi(request, caller, itemtypes_api.get_collection_item, collection_id, item_id)
    layer = collection_layer(caller, collection_id)
    pk = query.parse_pk(item_id)
    if request.method == "OPTIONS":
        response = HttpResponse(status=204)
        response["Allow"] = _allow(caller, layer, item=True)
        return response
    if pk is None:
        raise not_found(f"Không có đối tượng / No item {item_id!r}")
    if request.method in ("GET", "HEAD"):
        params = items_params(request.GET)
        unknown = sorted(set(params) - query.ITEM_PARAMS)
        if unknown:
            raise bad_request(f"Tham số không hỗ trợ / Unknown parameter(s): {', '.join(unknown)}")
        if _format(request) == "html":
            import pygeoapi.api.itemtypes as itemtypes_api

            return _pygeoapi(
                request, caller, itemtypes_api.get_collection_item, collection_id, item_id
            )
        response = _feature_response(
            request, caller, layer, pk, crs=query.served_crs(params.get("crs"))
        )
        if request.META.get("HTTP_IF_NONE_MATCH", "").strip() == response["ETag"]:
            not_modified = HttpResponse(status=304)
            not_modified["ETag"] = response["ETag"]
            return not_modified
        return response
    if request.method in ("PUT", "PATCH"):
        return _update(request, caller, layer, pk, replace=request.method == "PUT")
    if request.method == "DELETE":
        return _delete(request, caller, layer, pk)
    return _not_allowed(caller, layer, item=True)


def _not_allowed(caller: Caller, layer: FeatureLayer, item: bool) -> HttpResponse:
    response = error_response(
        OGCError(405, "MethodNotAllowed", "Phương thức không hỗ trợ / Method not allowed")
    )
    response["Allow"] = _allow(caller, layer, item, patch=True)
    return response


# --- Transactions (Features Part 4) ---
def _check_write(caller: Caller, layer: FeatureLayer) -> None:
    if not caller.is_authenticated:
        raise unauthorized("Cần đăng nhập để sửa dữ liệu / Authentication required to edit")
    if not caller.can_edit(layer):
        raise OGCError(
            403, "Forbidden", f"Bạn không có quyền sửa lớp / You may not edit {layer.id}"
        )


def _body(request: HttpRequest) -> dict[str, Any]:
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES:
        raise OGCError(
            415,
            "UnsupportedMediaType",
            "Nội dung phải là application/geo+json / The body must be application/geo+json",
        )
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.OGC_MAX_BODY_BYTES:
        raise OGCError(413, "PayloadTooLarge", "Nội dung quá lớn / The body is too large")
    try:
        raw = request.body
    except RequestDataTooBig as exc:
        raise OGCError(413, "PayloadTooLarge", "Nội dung quá lớn / The body is too large") from exc
    if len(raw) > settings.OGC_MAX_BODY_BYTES:
        raise OGCError(413, "PayloadTooLarge", "Nội dung quá lớn / The body is too large")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("JSON không hợp lệ / Invalid JSON", "InvalidFeature") from None
    if not isinstance(data, dict):
        raise bad_request(
            "Cần một Feature GeoJSON / A GeoJSON Feature is expected", "InvalidFeature"
        )
    return data


def _content_crs(request: HttpRequest) -> crs_registry.CRSDef:
    raw = request.META.get("HTTP_CONTENT_CRS", "").strip().strip("<>").strip()
    return query.served_crs(raw or None, "Content-Crs")


def _multi(geom: BaseGeometry, wanted: str) -> BaseGeometry:
    from shapely.geometry import MultiLineString, MultiPoint, MultiPolygon

    promote = {
        ("MultiPolygon", "Polygon"): MultiPolygon,
        ("MultiLineString", "LineString"): MultiLineString,
        ("MultiPoint", "Point"): MultiPoint,
    }.get((wanted, geom.geom_type))
    return promote([geom]) if promote else geom


def _geometry(layer: FeatureLayer, raw: Any, crs: crs_registry.CRSDef) -> GEOSGeometry | None:
    if raw is None:
        return None
    try:
        geom = shape(raw)
    except Exception:  # noqa: BLE001 — shapely raises several types for malformed GeoJSON
        raise bad_request(
            "Hình học GeoJSON không hợp lệ / Invalid GeoJSON geometry", "InvalidFeature"
        ) from None
    if geom.is_empty:
        raise bad_request("Hình học rỗng / Empty geometry", "InvalidFeature")
    if geom.has_z:
        geom = shapely.force_2d(geom)
    geom = cql.to_crs84(geom, crs)
    if not shapely.is_valid(geom) or not np.isfinite(shapely.get_coordinates(geom)).all():
        raise bad_request(
            "Hình học không hợp lệ / Invalid geometry: " + shapely.is_valid_reason(geom),
            "InvalidFeature",
        )
    wanted = query.geometry_type(layer)
    geom = _multi(geom, wanted)
    if wanted != "Geometry" and geom.geom_type != wanted:
        raise bad_request(
            f"Lớp cần hình học {wanted}, nhận {geom.geom_type} / "
            f"{layer.id} needs {wanted}, got {geom.geom_type}",
            "InvalidFeature",
        )
    try:
        return GEOSGeometry(json.dumps(mapping(geom)), srid=4326)
    except Exception:  # noqa: BLE001
        raise bad_request("Hình học không hợp lệ / Invalid geometry", "InvalidFeature") from None


def _has_default(model_field) -> bool:
    return model_field.has_default() or (model_field.blank and model_field.empty_strings_allowed)


def _properties(layer: FeatureLayer, caller: Caller, props: Any) -> dict[str, Any]:
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise bad_request(
            "properties phải là object / properties must be an object", "InvalidFeature"
        )
    writable = services.editable_fields(layer)
    visible = set(caller.fields(layer))
    data, unknown = {}, []
    for name, value in props.items():
        if name in writable and name in visible:
            model_field = writable[name]
            if value is None and not model_field.null and _has_default(model_field):
                # QGIS sends NULL for every field left empty: the column's default, as
                # JSON Merge Patch's null ("remove") means for PATCH.
                value = model_field.get_default()
            data[name] = value
        elif name in visible or name == "id":
            continue  # read-only attributes a client sends back (version, stamps, commune)
        else:
            unknown.append(name)
    if unknown:
        raise bad_request(
            "Thuộc tính không có hoặc không được sửa / Unknown or read-only: "
            + ", ".join(sorted(unknown)),
            "InvalidFeature",
        )
    return data


def _feature_parts(
    request, caller, layer, data: dict[str, Any] | None = None
) -> tuple[dict[str, Any], GEOSGeometry | None, bool]:
    data = _body(request) if data is None else data
    if data.get("type") != "Feature":
        raise bad_request(
            "Cần một Feature GeoJSON / A GeoJSON Feature is expected", "InvalidFeature"
        )
    crs = _content_crs(request)
    return (
        _properties(layer, caller, data.get("properties")),
        _geometry(layer, data.get("geometry"), crs),
        "geometry" in data,
    )


def _create(request: HttpRequest, caller: Caller, layer: FeatureLayer) -> HttpResponse:
    _check_write(caller, layer)
    props, geom, _given = _feature_parts(request, caller, layer)
    instance = services.do_create_feature(layer, props, geom, actor=caller.user)
    response = _feature_response(request, caller, layer, instance.pk, status=201)
    response["Location"] = f"{base_url(request)}/collections/{layer.id}/items/{instance.pk}"
    return response


def _update(request, caller: Caller, layer: FeatureLayer, pk: int, replace: bool) -> HttpResponse:
    """PUT/PATCH. Precondition: ``If-Match`` when sent, else the body's ``version`` (412 when
    stale, nothing written); neither → 428 (docs/decisions.md, "preconditions")."""
    _check_write(caller, layer)
    expected = _if_match_version(request, layer, pk)
    data = _body(request)
    if expected is None:
        expected = _body_version(data)
    if expected is None:
        raise _precondition_required(
            "tiêu đề If-Match với ETag, hoặc thuộc tính version đã đọc / an If-Match header "
            "with the item's ETag, or the feature's version property as read"
        )
    props, geom, _given = _feature_parts(request, caller, layer, data)
    if replace and geom is None:
        raise bad_request("PUT cần hình học / PUT needs a geometry", "InvalidFeature")
    services.do_update_feature(
        layer,
        pk,
        props,
        geometry=geom,
        expected_version=expected,
        actor=caller.user,
        replace=replace,
    )
    return _feature_response(request, caller, layer, pk)


def _delete(request, caller: Caller, layer: FeatureLayer, pk: int) -> HttpResponse:
    """DELETE. With ``If-Match``: checked like PUT. Without: QGIS ≥ 3.32 sends nothing else, so a
    caller whose credentials came with the request (Basic, Bearer) may delete unconditionally;
    a browser session (CSRF-exposed) gets 428. The deleted version stays restorable
    (``layers.services.do_restore_version``) and is named in the response and the log."""
    _check_write(caller, layer)
    expected = _if_match_version(request, layer, pk)
    if expected is None and not caller.has_credentials:
        raise _precondition_required(
            "tiêu đề If-Match với ETag của đối tượng / an If-Match header with the item's ETag"
        )
    services.do_delete_feature(layer, pk, expected_version=expected, actor=caller.user)
    response = HttpResponse(status=204)
    if expected is None:
        version = (
            FeatureHistory.objects.filter(table_name=layer.table, feature_id=pk, op="D")
            .order_by("-id")
            .values_list("version", flat=True)
            .first()
        )
        logger.warning(
            "Unconditional OGC DELETE of %s/%s (version %s) by %s via %s; restore with "
            "layers.services.do_restore_version",
            layer.id,
            pk,
            version,
            getattr(caller.user, "username", caller.user),
            caller.via,
        )
        response[UNCONDITIONAL_DELETE_HEADER] = f"restorable-version={version}"
    return response
