"""Run by tests/test_ogc_clients.py with the system Python 3 and QGIS 3.22 (offscreen).

Loads an OGC API Features layer (the OAPIF provider) with restrictToRequestBBOX='1', reads the
features inside a bbox and prints one JSON line: {"valid", "count_bbox", "codes", "wkb_type"}.
Arguments: <landing url> <collection> <minx> <miny> <maxx> <maxy>

Always ends with exitQgis() (after dropping the layer: QGIS 3.22 crashes in exitQgis() while a
provider is alive), also on errors; the caller runs it under a timeout.
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsFeatureRequest,
    QgsRectangle,
    QgsVectorLayer,
)


def read(url: str, collection: str, box: list[float]) -> dict:
    uri = f"url='{url}' typename='{collection}' restrictToRequestBBOX='1' pagingEnabled='true'"
    layer = QgsVectorLayer(uri, collection, "OAPIF")
    try:
        result = {"valid": layer.isValid()}
        if layer.isValid():
            request = QgsFeatureRequest().setFilterRect(QgsRectangle(*box))
            codes = [str(feature["code"]) for feature in layer.getFeatures(request)]
            result.update(codes=sorted(codes), count_bbox=len(codes), wkb_type=layer.wkbType())
        else:
            result["error"] = layer.error().summary()
        return result
    finally:
        del layer


def main() -> int:
    url, collection = sys.argv[1], sys.argv[2]
    box = [float(v) for v in sys.argv[3:7]]
    app = QgsApplication([], False)
    app.initQgis()
    try:
        print(json.dumps(read(url, collection, box)), flush=True)
    finally:
        app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
