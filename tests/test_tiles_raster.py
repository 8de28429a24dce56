"""MapProxy at /mapproxy: WMTS (OWSLib), TMS, WMS, OGC API Tiles for the DEM renderings; the
external basemap against a local fake upstream; clearing a raster's cache."""

from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import morecantile
import numpy as np
import pytest
from PIL import Image

from tiles import mapproxy, raster

pytestmark = pytest.mark.django_db
TMS = morecantile.tms.get("WebMercatorQuad")
LON, LAT = 105.75, 21.65  # inside the DEM


@pytest.fixture(autouse=True)
def mapproxy_dirs(settings, tmp_path):
    settings.MAPPROXY_DIR = tmp_path / "mapproxy"
    settings.MAPPROXY_CACHE_DIR = tmp_path / "mapproxy-cache"
    settings.BASEMAP_URL = ""
    mapproxy.reset()
    yield tmp_path
    mapproxy.reset()


def image(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)).convert("RGBA"))


def has_drawing(pixels: np.ndarray) -> bool:
    opaque = pixels[..., 3] > 0
    return bool(opaque.mean() > 0.5 and pixels[..., :3][opaque].std() > 3)


def test_wmts_capabilities_parse_and_gettile_returns_png(client):
    from owslib.wmts import WebMapTileService

    caps = client.get("/mapproxy/wmts/1.0.0/WMTSCapabilities.xml")
    assert caps.status_code == 200
    wmts = WebMapTileService("http://testserver/mapproxy/wmts", xml=caps.content)
    assert {"dem_relief", "dem_hillshade"} <= set(wmts.contents)
    assert "webmercator" in wmts.tilematrixsets
    t = TMS.tile(LON, LAT, 10)
    # OWSLib builds the KVP GetTile request; we send it through Django's client.
    from urllib.parse import urlencode

    query = urlencode(
        {
            "SERVICE": "WMTS",
            "REQUEST": "GetTile",
            "VERSION": "1.0.0",
            "LAYER": "dem_relief",
            "STYLE": "default",
            "TILEMATRIXSET": "webmercator",
            "TILEMATRIX": "10",
            "TILEROW": t.y,
            "TILECOL": t.x,
            "FORMAT": "image/png",
        }
    )
    tile = client.get(f"/mapproxy/service?{query}")
    assert tile.status_code == 200 and tile["Content-Type"] == "image/png"
    assert has_drawing(image(tile.content))
    rest = client.get(f"/mapproxy/wmts/dem_hillshade/webmercator/10/{t.x}/{t.y}.png")
    assert rest.status_code == 200 and has_drawing(image(rest.content))


def test_wms_tms_and_ogcapi(client):
    wms = client.get(
        "/mapproxy/service?SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS=dem_relief"
        "&CRS=EPSG:4326&BBOX=21.4,105.5,21.9,105.95&WIDTH=300&HEIGHT=300&FORMAT=image/png"
        "&STYLES="
    )
    assert wms.status_code == 200 and has_drawing(image(wms.content))
    caps = client.get("/mapproxy/service?SERVICE=WMS&REQUEST=GetCapabilities")
    assert b"dem_hillshade" in caps.content
    t = TMS.tile(LON, LAT, 9)
    # TMS (global-mercator profile): rows from the south, level 0 is XYZ zoom 1.
    tms_y = 2**9 - 1 - t.y
    tms = client.get(f"/mapproxy/tms/1.0.0/dem_relief/webmercator/8/{t.x}/{tms_y}.png")
    assert tms.status_code == 200 and has_drawing(image(tms.content))
    collections = client.get("/mapproxy/ogcapi/collections", HTTP_ACCEPT="application/json")
    assert collections.status_code == 200
    assert "dem_relief" in {c["id"] for c in collections.json()["collections"]}


def test_direct_raster_tiles_and_renderers(client):
    t = TMS.tile(LON, LAT, 11)
    for layer in ("dem_relief", "dem_hillshade"):
        response = client.get(f"/tiles/raster/{layer}/11/{t.x}/{t.y}.png")
        assert response.status_code == 200 and has_drawing(image(response.content))
    # Far from the DEM: transparent, not an error.
    far = TMS.tile(0.0, 0.0, 11)
    empty = image(client.get(f"/tiles/raster/dem_relief/11/{far.x}/{far.y}.png").content)
    assert empty[..., 3].max() == 0
    assert client.get("/tiles/raster/schools/1/0/0.png").status_code == 404


def test_seed_and_clear_raster_cache(mapproxy_dirs, capsys):
    from django.core.management import call_command

    call_command("seed_raster", "--layer", "dem_relief", "--zoom", "8-10")
    cache_dir = mapproxy.cache_dirs(raster.raster_layer("dem_relief", check_access=False))[0]
    seeded = list(cache_dir.rglob("*.png"))
    assert seeded, "MapProxy's seeder filled the cache"
    assert raster.cog_path(raster.raster_layer("dem_relief", check_access=False)).exists()
    raster.clear_raster_cache("dem_relief")
    assert not cache_dir.exists() or not list(cache_dir.rglob("*.png"))


class _FakeTiles(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802
        _FakeTiles.requests.append(self.path)
        out = io.BytesIO()
        Image.new("RGBA", (256, 256), (200, 30, 30, 255)).save(out, "PNG")
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(out.getvalue())))
        self.end_headers()
        self.wfile.write(out.getvalue())

    def log_message(self, *args):
        pass


def test_external_basemap_against_a_local_fake_upstream(client, settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeTiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings.BASEMAP_URL = f"http://127.0.0.1:{server.server_port}/base/{{z}}/{{x}}/{{y}}.png"
        response = client.get("/mapproxy/wmts/basemap/webmercator/5/25/14.png")
        assert response.status_code == 200
        pixels = image(response.content)
        assert tuple(pixels[128, 128]) == (200, 30, 30, 255)
        assert "/base/5/25/14.png" in _FakeTiles.requests
        # Served from MapProxy's cache the second time.
        count = len(_FakeTiles.requests)
        client.get("/mapproxy/wmts/basemap/webmercator/5/25/14.png")
        assert len(_FakeTiles.requests) == count
    finally:
        server.shutdown()
