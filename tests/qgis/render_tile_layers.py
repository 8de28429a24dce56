"""Run by tests/test_tiles_qgis.py with the system Python 3 and QGIS 3.22 (offscreen).

Loads our XYZ vector tiles (QgsVectorTileLayer) and MapProxy's WMTS (the "wms" raster
provider reading WMTSCapabilities.xml), renders each with QGIS's default style over an extent
in EPSG:3857 and writes one PNG per layer. Prints one JSON line:
{"<name>": {"valid", "error", "png", "render_errors", "crs"}, ...}.

Arguments: <server url> <output dir> <minx> <miny> <maxx> <maxy> (EPSG:3857 metres)
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsDataSourceUri,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorTileLayer,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402

SIZE = 512


def vector_tile_layer(server: str, layer: str) -> QgsVectorTileLayer:
    uri = QgsDataSourceUri()
    uri.setParam("type", "xyz")
    uri.setParam("url", f"{server}/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt")
    uri.setParam("zmin", "0")
    uri.setParam("zmax", "14")
    return QgsVectorTileLayer(bytes(uri.encodedUri()).decode(), layer)


def wmts_layer(server: str, layer: str, matrix_set: str) -> QgsRasterLayer:
    uri = QgsDataSourceUri()
    for key, value in [
        ("contextualWMSLegend", "0"),
        ("crs", "EPSG:3857"),
        ("dpiMode", "7"),
        ("format", "image/png"),
        ("layers", layer),
        ("styles", ""),
        ("tileMatrixSet", matrix_set),
        ("url", f"{server}/mapproxy/wmts/1.0.0/WMTSCapabilities.xml"),
    ]:
        uri.setParam(key, value)
    return QgsRasterLayer(bytes(uri.encodedUri()).decode(), layer, "wms")


def render(layer, extent: QgsRectangle, path: str) -> list[str]:
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    settings.setExtent(extent)
    settings.setOutputSize(QSize(SIZE, SIZE))
    settings.setBackgroundColor(QColor(255, 255, 255, 0))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(path, "PNG")
    return [f"{e.layerID}: {e.message}" for e in job.errors()]


def main() -> int:
    server, out = sys.argv[1].rstrip("/"), sys.argv[2]
    extent = QgsRectangle(*(float(v) for v in sys.argv[3:7]))
    app = QgsApplication([], False)
    app.initQgis()
    result = {}
    try:
        layers = {
            "vector_tiles": vector_tile_layer(server, "communes"),
            "wmts": wmts_layer(server, "dem_relief", "webmercator"),
        }
        for name, layer in layers.items():
            entry = {"valid": layer.isValid(), "crs": layer.crs().authid()}
            if not layer.isValid():
                entry["error"] = layer.error().summary()
            else:
                path = os.path.join(out, f"{name}.png")
                entry["render_errors"] = render(layer, extent, path)
                entry["png"] = path
            result[name] = entry
        print(json.dumps(result), flush=True)
        # QGIS 3.22 crashes in exitQgis() if a provider is still alive
        layers.clear()
        del layer
    finally:
        app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
