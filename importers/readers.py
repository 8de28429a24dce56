"""Format readers: the importer's seam, one small class per kind of source.

Like pygeoapi's providers, each reader declares what it can do as data (``supports_*``
flags) and yields the same thing: batches of raw attribute rows plus shapely geometries in
the file's own coordinates. Register a new format with ``@register``.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import shapely
from django.conf import settings
from pyproj import CRS

from importers.errors import (
    EmptySource,
    MissingCoordinates,
    MissingSidecar,
    NotWhatItSays,
    UnreadableSource,
    UnsafeArchive,
    UnsupportedFormat,
)


@dataclass
class SourceField:
    name: str
    kind: str  # "int" | "float" | "str" | "bool" | "date" | "datetime" | "other"


@dataclass
class Batch:
    rows: list[dict[str, Any]]
    geoms: np.ndarray  # shapely geometries (None where missing), source coordinates


@dataclass
class Source:
    """An opened file: what it holds, and how to read it in batches."""

    fields: list[SourceField]
    geometry_type: str | None  # "Point", "MultiPolygon", …, None when unknown/mixed
    crs: CRS | None
    count: int | None
    reader: Reader
    path: Path
    notes: list[str] = field(default_factory=list)

    def batches(self, batch_size: int) -> Iterator[Batch]:
        return self.reader.batches(self, batch_size)

    def sample(self, size: int = 1000) -> Batch:
        return next(iter(self.reader.batches(self, size)), Batch([], np.array([], dtype=object)))


class Reader:
    """Base class of format readers."""

    name: ClassVar[str] = ""
    extensions: ClassVar[tuple[str, ...]] = ()
    # Reads in bounded batches whatever the file size.
    supports_streaming: ClassVar[bool] = True
    # The format can declare its CRS (otherwise it is always detected).
    has_crs: ClassVar[bool] = True
    # Geometry comes from coordinate columns (tables), not a geometry field.
    needs_coordinate_columns: ClassVar[bool] = False
    # Text may be in legacy encodings that must be detected from bytes.
    legacy_text: ClassVar[bool] = False
    # First bytes a genuine file starts with (None: not checked).
    magic: ClassVar[tuple[bytes, ...] | None] = None

    def check(self, path: Path) -> None:
        """Raise a typed error when the file is not what its extension says."""
        if self.magic is None:
            return
        with path.open("rb") as fh:
            head = fh.read(16)
        if not any(head.startswith(m) for m in self.magic):
            raise NotWhatItSays(
                f"Tệp {path.name} không phải là {self.name} như phần mở rộng cho biết.",
                f"{path.name} is not a {self.name} file, whatever its extension says.",
            )

    def open(self, path: Path) -> Source:
        raise NotImplementedError

    def batches(self, source: Source, batch_size: int) -> Iterator[Batch]:
        raise NotImplementedError


READERS: dict[str, Reader] = {}


def register(cls: type[Reader]) -> type[Reader]:
    instance = cls()
    for ext in cls.extensions:
        READERS[ext] = instance
    return cls


def _kind(dtype: str) -> str:
    if dtype.startswith("int") or dtype.startswith("uint"):
        return "int"
    if dtype.startswith("float"):
        return "float"
    if dtype == "bool":
        return "bool"
    if dtype.startswith("datetime64"):
        return "datetime"
    if dtype == "object":
        return "str"
    return "other"


# --- GDAL/OGR formats through pyogrio's Arrow stream ----------------------------------------
class OGRReader(Reader):
    encoding: ClassVar[str | None] = None
    gdal_prefix: ClassVar[str] = ""

    def gdal_path(self, path: Path) -> str:
        return f"{self.gdal_prefix}{path}"

    def open(self, path: Path) -> Source:
        import pyogrio

        self.check(path)
        try:
            layers = pyogrio.list_layers(self.gdal_path(path))
            info = pyogrio.read_info(self.gdal_path(path), encoding=self.encoding)
        except Exception as exc:  # pyogrio raises DataSourceError and friends
            raise UnreadableSource(
                f"GDAL không đọc được {path.name}: {exc}",
                f"GDAL cannot read {path.name}: {exc}",
            ) from exc
        notes = []
        if len(layers) > 1:
            notes.append(
                f"Tệp có {len(layers)} lớp, nhập lớp đầu tiên “{info['layer_name']}” / "
                f"the file has {len(layers)} layers; importing the first, {info['layer_name']!r}"
            )
        crs = CRS.from_user_input(info["crs"]) if info.get("crs") else None
        gtype = info.get("geometry_type")
        gtype = None if gtype in (None, "Unknown", "Geometry") else gtype.replace(" Z", "")
        gtype = gtype.replace("3D ", "") if gtype else None
        fields = [
            SourceField(name, _kind(str(dtype)))
            for name, dtype in zip(info["fields"], info["dtypes"], strict=True)
        ]
        count = info.get("features")
        return Source(
            fields, gtype, crs, count if count and count >= 0 else None, self, path, notes
        )

    def batches(self, source: Source, batch_size: int) -> Iterator[Batch]:
        import pyogrio.raw

        with pyogrio.raw.open_arrow(
            self.gdal_path(source.path),
            encoding=self.encoding,
            batch_size=batch_size,
            use_pyarrow=True,
        ) as (meta, stream):
            geometry_column = meta.get("geometry_name") or "wkb_geometry"
            for batch in stream:
                names = batch.schema.names
                gcol = geometry_column if geometry_column in names else None
                if gcol is None:
                    for candidate in ("wkb_geometry", "geometry", "geom"):
                        if candidate in names:
                            gcol = candidate
                            break
                wkb = batch.column(gcol).to_numpy(zero_copy_only=False) if gcol else None
                columns = {
                    name: batch.column(name).to_pylist()
                    for name in names
                    if name != gcol and name != meta.get("fid_column")
                }
                n = batch.num_rows
                rows = [{k: v[i] for k, v in columns.items()} for i in range(n)]
                geoms = (
                    shapely.from_wkb(wkb, on_invalid="ignore")
                    if wkb is not None
                    else np.full(n, None, dtype=object)
                )
                yield Batch(rows, geoms)


@register
class ShapefileReader(OGRReader):
    name = "ESRI Shapefile"
    extensions = (".shp",)
    # Latin-1 round-trips every DBF byte; the encoding is decided by importers.encoding.
    encoding = "latin1"
    legacy_text = True
    magic = (b"\x00\x00\x27\x0a",)

    def check(self, path: Path) -> None:
        super().check(path)
        siblings = {p.suffix.lower(): p for p in path.parent.glob(path.stem + ".*")}
        missing = [ext for ext in (".shx", ".dbf") if ext not in siblings]
        if missing:
            raise MissingSidecar(
                f"Thiếu tệp đi kèm {', '.join(missing)} của {path.name}: một shapefile cần "
                ".shp, .shx và .dbf cùng tên (nén cả bộ thành .zip để tải lên).",
                f"{path.name} lacks its {', '.join(missing)}: a shapefile needs .shp, .shx and "
                ".dbf of the same name (zip them together to upload).",
                missing=missing,
            )


@register
class GeoPackageReader(OGRReader):
    name = "GeoPackage"
    extensions = (".gpkg",)
    magic = (b"SQLite format 3\x00",)


@register
class GeoJSONReader(OGRReader):
    name = "GeoJSON"
    extensions = (".geojson", ".json")

    def check(self, path: Path) -> None:
        with path.open("rb") as fh:
            head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head.startswith(b"{"):
            raise NotWhatItSays(
                f"Tệp {path.name} không phải GeoJSON.", f"{path.name} is not GeoJSON."
            )


@register
class FlatGeobufReader(OGRReader):
    name = "FlatGeobuf"
    extensions = (".fgb",)
    magic = (b"fgb\x03",)


@register
class KMLReader(OGRReader):
    name = "KML"
    extensions = (".kml",)
    has_crs = False  # always WGS 84

    def check(self, path: Path) -> None:
        with path.open("rb") as fh:
            head = fh.read(256).lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head.startswith(b"<"):
            raise NotWhatItSays(f"Tệp {path.name} không phải KML.", f"{path.name} is not KML.")


@register
class KMZReader(OGRReader):
    name = "KMZ"
    extensions = (".kmz",)
    has_crs = False
    magic = (b"PK\x03\x04",)

    def check(self, path: Path) -> None:
        super().check(path)
        check_archive(path)

    def gdal_path(self, path: Path) -> str:
        with zipfile.ZipFile(path) as zf:
            kml = [n for n in zf.namelist() if n.lower().endswith(".kml")]
        if not kml:
            raise UnreadableSource(
                f"{path.name} không chứa tệp .kml.", f"{path.name} holds no .kml file."
            )
        return f"/vsizip/{path}/{kml[0]}"


# --- Tables with coordinate columns ---------------------------------------------------------
_X_NAMES = {"x", "lon", "lng", "long", "longitude", "kinhdo", "easting", "east", "toadox", "xcoord"}
_Y_NAMES = {"y", "lat", "latitude", "vido", "northing", "north", "toadoy", "ycoord"}


def _plain(name: str) -> str:
    text = unicodedata.normalize("NFD", str(name)).replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]", "", text.lower())


def coordinate_columns(names: list[str]) -> tuple[str, str]:
    x = [n for n in names if _plain(n) in _X_NAMES]
    y = [n for n in names if _plain(n) in _Y_NAMES]
    if not x or not y:
        raise MissingCoordinates(
            "Không tìm thấy cột toạ độ (X/Y, kinh độ/vĩ độ, lon/lat). Các cột có: "
            + ", ".join(names),
            "No coordinate columns found (X/Y, lon/lat, easting/northing). Columns: "
            + ", ".join(names),
            columns=names,
        )
    return x[0], y[0]


def _number(value: Any) -> float:
    if value is None or value == "":
        return np.nan
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().replace(" ", "")
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")  # Vietnamese decimal comma
    try:
        return float(text)
    except ValueError:
        return np.nan


class TableReader(Reader):
    has_crs = False
    needs_coordinate_columns = True
    legacy_text = True

    def rows(self, path: Path) -> tuple[list[str], Iterator[list[Any]]]:
        raise NotImplementedError

    def open(self, path: Path) -> Source:
        self.check(path)
        names, rows = self.rows(path)
        if not names:
            raise EmptySource(f"{path.name} trống.", f"{path.name} is empty.")
        xcol, ycol = coordinate_columns(names)
        fields = [SourceField(n, "str") for n in names if n not in (xcol, ycol)]
        return Source(fields, "Point", None, None, self, path, [f"X={xcol}, Y={ycol}"])

    def batches(self, source: Source, batch_size: int) -> Iterator[Batch]:
        names, rows = self.rows(source.path)
        xcol, ycol = coordinate_columns(names)
        chunk: list[dict[str, Any]] = []
        for values in rows:
            if not any(v not in (None, "") for v in values):
                continue
            chunk.append(dict(zip(names, values, strict=False)))
            if len(chunk) >= batch_size:
                yield self._batch(chunk, xcol, ycol)
                chunk = []
        if chunk:
            yield self._batch(chunk, xcol, ycol)

    @staticmethod
    def _batch(chunk: list[dict[str, Any]], xcol: str, ycol: str) -> Batch:
        x = np.array([_number(r.pop(xcol, None)) for r in chunk])
        y = np.array([_number(r.pop(ycol, None)) for r in chunk])
        geoms = shapely.points(x, y)
        geoms[~(np.isfinite(x) & np.isfinite(y))] = None
        return Batch(chunk, geoms)


@register
class CSVReader(TableReader):
    name = "CSV"
    extensions = (".csv", ".txt", ".tsv")

    def check(self, path: Path) -> None:
        with path.open("rb") as fh:
            head = fh.read(4096)
        if b"\x00" in head or head.startswith((b"PK\x03\x04", b"SQLite")):
            raise NotWhatItSays(
                f"Tệp {path.name} không phải CSV (văn bản).", f"{path.name} is not a CSV text."
            )

    def rows(self, path: Path) -> tuple[list[str], Iterator[list[Any]]]:
        raw = path.open("rb")
        head = raw.read(65536)
        raw.seek(0)
        # UTF-8 when it decodes; otherwise Latin-1, which keeps the bytes for detection.
        try:
            head.decode("utf-8")
            encoding = "utf-8-sig"
        except UnicodeDecodeError as exc:
            encoding = "utf-8-sig" if exc.start > len(head) - 4 else "latin1"
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        sample = head.decode("latin1")
        try:
            dialect = csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(text, dialect)
        names = next(reader, [])

        def rows() -> Iterator[list[Any]]:
            try:
                yield from reader
            finally:
                text.close()

        return [n.strip() for n in names], rows()


@register
class XLSXReader(TableReader):
    name = "XLSX"
    extensions = (".xlsx",)
    magic = (b"PK\x03\x04",)
    legacy_text = True

    def check(self, path: Path) -> None:
        super().check(path)
        check_archive(path)

    def rows(self, path: Path) -> tuple[list[str], Iterator[list[Any]]]:
        import openpyxl

        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds on a broken file
            raise UnreadableSource(
                f"Không đọc được bảng tính {path.name}: {exc}",
                f"Cannot read the workbook {path.name}: {exc}",
            ) from exc
        sheet = book.worksheets[0]
        iterator = sheet.iter_rows(values_only=True)
        header = next(iterator, None) or ()
        names = [str(h).strip() if h is not None else f"col{i}" for i, h in enumerate(header)]

        def rows() -> Iterator[list[Any]]:
            try:
                for values in iterator:
                    yield list(values)
            finally:
                book.close()

        return names, rows()


# --- Archives -------------------------------------------------------------------------------
def check_archive(path: Path) -> list[zipfile.ZipInfo]:
    """Refuse path traversal, links and zip bombs before anything is extracted."""
    limit = settings.IMPORTERS_MAX_EXPANDED_BYTES
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise NotWhatItSays(
            f"{path.name} không phải tệp nén zip hợp lệ.", f"{path.name} is not a valid zip."
        ) from exc
    with zf:
        members = zf.infolist()
        total = 0
        for info in members:
            name = info.filename
            if name.startswith(("/", "\\")) or ".." in Path(name).parts or ":" in name:
                raise UnsafeArchive(
                    f"Tệp nén chứa đường dẫn không an toàn: {name}",
                    f"The archive holds an unsafe path: {name}",
                    member=name,
                )
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise UnsafeArchive(
                    f"Tệp nén chứa liên kết tượng trưng: {name}",
                    f"The archive holds a symbolic link: {name}",
                    member=name,
                )
            total += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            if total > limit or (info.file_size > 10_000_000 and ratio > 200):
                raise UnsafeArchive(
                    f"Tệp nén giải ra quá lớn ({total} byte, giới hạn {limit}): nghi là zip bomb.",
                    f"The archive expands too far ({total} bytes, limit {limit}): a zip bomb?",
                    expanded=total,
                )
        if len(members) > 10_000:
            raise UnsafeArchive("Tệp nén có quá nhiều tệp.", "The archive holds too many files.")
    return members


@contextmanager
def extracted(path: Path, workdir: Path) -> Iterator[Path]:
    """A zip's one dataset, safely extracted; yields its path."""
    members = check_archive(path)
    with zipfile.ZipFile(path) as zf:
        for info in members:
            if info.is_dir():
                continue
            target = workdir / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            with zf.open(info) as src, target.open("wb") as dst:
                # Count what really comes out: headers can lie about sizes.
                while block := src.read(1 << 20):
                    written += len(block)
                    if written > settings.IMPORTERS_MAX_EXPANDED_BYTES:
                        raise UnsafeArchive(
                            "Tệp nén giải ra quá lớn: nghi là zip bomb.",
                            "The archive expands too far: a zip bomb?",
                        )
                    dst.write(block)
    datasets = [
        p
        for p in sorted(workdir.rglob("*"))
        if p.is_file()
        and p.suffix.lower() in READERS
        and p.suffix.lower() not in (".txt",)
        and not p.name.startswith(".")
        and "__MACOSX" not in p.parts
    ]
    if not datasets:
        raise UnsupportedFormat(
            f"{path.name} không chứa dữ liệu nhập được ({', '.join(sorted(READERS))}).",
            f"{path.name} holds no importable dataset ({', '.join(sorted(READERS))}).",
        )
    yield datasets[0]


def reader_for(path: Path) -> Reader:
    if not path.exists():
        raise UnreadableSource(f"Không có tệp {path}.", f"No such file: {path}.")
    if path.stat().st_size == 0:
        raise EmptySource(f"Tệp {path.name} rỗng (0 byte).", f"{path.name} is empty (0 bytes).")
    try:
        return READERS[path.suffix.lower()]
    except KeyError:
        raise UnsupportedFormat(
            f"Không hỗ trợ định dạng {path.suffix or '(không phần mở rộng)'}; dùng: "
            + ", ".join(sorted(READERS)),
            f"Unsupported format {path.suffix or '(no extension)'}; use one of: "
            + ", ".join(sorted(READERS)),
        ) from None
