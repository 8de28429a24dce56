"""The vector import: read in batches → decode text → reproject → validate/repair → COPY
into a staging table → one set-based INSERT/UPDATE into the layer, all in one transaction.

Memory stays bounded by the batch size whatever the file size; the database does the
merge. Writes run under ``acting_as(actor)`` so the change-capture triggers attribute every
history row (and NOTIFY) to whoever imported, and UPDATEs skip rows whose values are
unchanged, so re-running an import changes nothing.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from importers import crsdetect, encoding
from importers.errors import (
    EmptySource,
    FeaturesRejected,
    FieldMapError,
    UnknownLayerError,
    WriteFailed,
)
from importers.mapping import BadValue, Target, check_layer, load_field_map
from importers.readers import READERS, Source, extracted, reader_for
from importers.report import Report

MODES = ("append", "upsert", "replace")
# Reasons kept per import; beyond that only counted (memory stays bounded).
MAX_REASONS = 100_000
SAMPLE = 2000

_SINGLE = {"MultiPoint": "Point", "MultiLineString": "LineString", "MultiPolygon": "Polygon"}
_MULTI = {v: k for k, v in _SINGLE.items()}


@dataclass
class Options:
    mode: str = "append"
    key: str | None = None
    encoding: str = "auto"
    srs: str = "auto"
    field_map: str | Path | None = None
    dry_run: bool = False
    skip_invalid: bool = False
    extent: str = "province"  # "province" | "country"
    batch_size: int | None = None


class _DryRun(Exception):
    pass


@contextmanager
def open_source(path: Path) -> Iterator[Source]:
    path = Path(path)
    if path.suffix.lower() == ".zip":
        if not path.exists() or path.stat().st_size == 0:
            reader_for(path)  # raises the right error
        with tempfile.TemporaryDirectory(prefix="ioc-import-") as tmp:
            with extracted(path, Path(tmp)) as inner:
                yield READERS[inner.suffix.lower()].open(inner)
        return
    yield reader_for(path).open(path)


def target_for(layer_id: str, key: str | None) -> Target:
    from layers.registry import FeatureLayer, UnknownLayer, registry

    try:
        layer = registry.get(layer_id)
    except UnknownLayer:
        raise UnknownLayerError(
            f"Không có lớp “{layer_id}”. Các lớp: {', '.join(registry.ids())}",
            f"Unknown layer {layer_id!r}. Layers: {', '.join(registry.ids())}",
        ) from None
    if not isinstance(layer, FeatureLayer) or not layer.editable:
        raise UnknownLayerError(
            f"Lớp “{layer_id}” không nhận dữ liệu véc-tơ nhập vào.",
            f"Layer {layer_id!r} does not take imported vector features.",
        )
    return Target.for_layer(layer, key)


_TYPE_NAMES = np.array(
    [
        "Point",
        "LineString",
        "LinearRing",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    ]
)
_MAKE_MULTI = {
    "MultiPoint": shapely.multipoints,
    "MultiLineString": shapely.multilinestrings,
    "MultiPolygon": shapely.multipolygons,
}


def _coerce(geoms: np.ndarray, wanted: str) -> tuple[np.ndarray, np.ndarray]:
    """Promote single → multi and demote one-part multi → single; returns (geoms, bad mask).

    Vectorised: only the odd geometries go through Python one by one."""
    types = shapely.get_type_id(geoms)
    wanted_id = int(np.flatnonzero(_TYPE_NAMES == wanted)[0])
    out = geoms.copy()
    bad = np.zeros(len(geoms), dtype=bool)
    single = _SINGLE.get(wanted)
    if single is not None:  # promote every single part at once
        promote = np.flatnonzero(types == int(np.flatnonzero(_TYPE_NAMES == single)[0]))
        if len(promote):
            out[promote] = _MAKE_MULTI[wanted](geoms[promote], indices=np.arange(len(promote)))
    others = np.flatnonzero((types >= 0) & (types != wanted_id))
    for i in others:
        g = geoms[i]
        name = _TYPE_NAMES[types[i]]
        if name == single:
            continue  # promoted above
        if _SINGLE.get(name) == wanted and shapely.get_num_geometries(g) == 1:
            out[i] = shapely.get_geometry(g, 0)
        elif name == "GeometryCollection" and wanted.endswith("Polygon"):
            parts = [
                q
                for p in shapely.get_parts(g)
                if p.geom_type in ("Polygon", "MultiPolygon")
                for q in shapely.get_parts(p)
            ]
            if parts and wanted == "MultiPolygon":
                out[i] = shapely.multipolygons(parts)
            elif len(parts) == 1:
                out[i] = parts[0]
            else:
                bad[i] = True
        else:
            bad[i] = True
    return out, bad


class Importer:
    def __init__(
        self,
        path: str | Path,
        target: Target,
        options: Options,
        *,
        actor: Any,
        progress: Callable[[int, int | None], None] | None = None,
        show_progress: bool = False,
    ) -> None:
        self.path = Path(path)
        self.target = target
        self.options = options
        self.actor = actor
        self.progress = progress
        self.show_progress = show_progress
        self.report = Report(
            source=str(self.path),
            layer=target.label,
            mode=options.mode,
            key=target.key,
            dry_run=options.dry_run,
        )

    # --- the run ---------------------------------------------------------------------------
    def run(self) -> Report:
        started = time.monotonic()
        opts = self.options
        if opts.mode not in MODES:
            raise ValueError(opts.mode)
        if opts.mode == "upsert" and not self.target.key:
            raise UnknownLayerError(
                "Chế độ upsert cần trường khoá (--key).", "Upsert mode needs a key (--key)."
            )
        field_map = load_field_map(opts.field_map)
        with open_source(self.path) as source:
            self.report.format = source.reader.name
            self.report.notes.extend(source.notes)
            sample = source.sample(SAMPLE)
            if not sample.rows:
                raise EmptySource(
                    f"{self.path.name} không có đối tượng nào.",
                    f"{self.path.name} has no features.",
                )
            mapping = check_layer(source, self.target, field_map)
            self.mapping = mapping
            if opts.mode == "upsert" and self.target.key not in mapping.fields:
                raise FieldMapError(
                    f"Chế độ upsert cần trường khoá “{self.target.key}” trong tệp (hoặc --key, "
                    "--field-map).",
                    f"Upsert needs the key field {self.target.key!r} in the file (or --key, "
                    "--field-map).",
                )
            self.report.field_mapping = dict(mapping.fields)
            self.report.ignored_fields = mapping.ignored
            self._detect_encodings(source, sample)
            self._detect_crs(source, sample)
            try:
                from layers.services import acting_as

                with acting_as(self.actor):
                    self._write(source)
                    if opts.dry_run:
                        raise _DryRun
            except _DryRun:
                pass
            except DatabaseError as exc:
                cause = getattr(exc, "__cause__", None)
                message = getattr(getattr(cause, "diag", None), "message_primary", None) or str(exc)
                raise WriteFailed(
                    f"Cơ sở dữ liệu từ chối dữ liệu, không ghi gì: {message}",
                    f"The database refused the data; nothing was written: {message}",
                ) from exc
        self.report.duration_s = round(time.monotonic() - started, 3)
        return self.report

    # --- detection -------------------------------------------------------------------------
    def _detect_encodings(self, source: Source, sample) -> None:
        self.converters: dict[str, Callable] = {}
        text_fields = [f.name for f in source.fields if f.kind == "str"]
        for name in text_fields:
            if name not in self.mapping.fields.values():
                continue
            if self.options.encoding != "auto":
                enc = self._named_encoding(self.options.encoding)
            else:
                enc = encoding.detect(row.get(name) for row in sample.rows)
            self.converters[name] = encoding.converter(enc)
            self.report.encodings[name] = encoding.LABELS[enc]

    @staticmethod
    def _named_encoding(name: str) -> str:
        aliases = {
            "tcvn3": encoding.TCVN3,
            "abc": encoding.TCVN3,
            "tcvn5712-1": encoding.TCVN3,
            "vni": encoding.VNI,
            "vni-windows": encoding.VNI,
            "viqr": encoding.VIQR,
            "cp1258": encoding.CP1258,
            "windows-1258": encoding.CP1258,
            "utf-8": encoding.UNICODE,
            "utf8": encoding.UNICODE,
            "unicode": encoding.UNICODE,
        }
        try:
            return aliases[name.lower()]
        except KeyError:
            from importers.errors import ImportFailed

            raise ImportFailed(
                f"Không biết bảng mã {name}; dùng: {', '.join(sorted(aliases))}",
                f"Unknown encoding {name}; use one of: {', '.join(sorted(aliases))}",
            ) from None

    def _detect_crs(self, source: Source, sample) -> None:
        geoms = np.array([g for g in sample.geoms if g is not None], dtype=object)
        xy = shapely.get_coordinates(geoms) if len(geoms) else np.empty((0, 2))
        if len(xy) > 5000:
            xy = xy[np.linspace(0, len(xy) - 1, 5000).astype(int)]
        declared = source.crs if source.reader.has_crs else None
        if not source.reader.has_crs and not source.reader.needs_coordinate_columns:
            from pyproj import CRS

            declared = CRS.from_epsg(4326)  # KML is WGS 84 by definition
        forced = None if self.options.srs in ("", "auto", None) else self.options.srs
        self.crs = crsdetect.detect(xy, declared, forced=forced)
        self.report.crs = self.crs.as_dict()

    # --- writing ---------------------------------------------------------------------------
    def _staging(self, cursor) -> list[str]:
        t = self.target
        cols = [t.columns[name] for name in self.mapping.fields]
        defs = ", ".join(f'"{c.column}" {c.sql_type}' for c in cols)
        # Dropped explicitly too: inside an outer transaction (tests, the admin's job) the
        # ON COMMIT never comes before a second import.
        cursor.execute("DROP TABLE IF EXISTS ioc_import_stage")
        cursor.execute(
            f"CREATE TEMP TABLE ioc_import_stage (src_row integer, {defs}{', ' if defs else ''}"
            f'"{t.geometry_column}" geometry) ON COMMIT DROP'
        )
        return [c.column for c in cols]

    def _write(self, source: Source) -> None:
        t, opts = self.target, self.options
        batch_size = opts.batch_size or settings.IMPORTERS_BATCH_SIZE
        bar = None
        if self.show_progress:
            from tqdm import tqdm

            bar = tqdm(total=source.count, unit=" đt", unit_scale=True, desc="Nhập / import")
        read = 0
        with connection.cursor() as cursor:
            columns = self._staging(cursor)
            copy_cols = ", ".join(f'"{c}"' for c in ["src_row", *columns, t.geometry_column])
            with cursor.copy(f"COPY ioc_import_stage ({copy_cols}) FROM STDIN") as copy:
                for batch in source.batches(batch_size):
                    for row in self._prepare(batch, read):
                        copy.write_row(row)
                    read += len(batch.rows)
                    if bar is not None:
                        bar.update(len(batch.rows))
                    if self.progress:
                        self.progress(read, source.count)
            if bar is not None:
                bar.close()
            self.report.counts["read"] = read
            if read == 0:
                raise EmptySource(
                    f"{self.path.name} không có đối tượng nào.",
                    f"{self.path.name} has no features.",
                )
            self._reject_duplicates(cursor)
            if self.report.counts["rejected"] and not opts.skip_invalid:
                raise FeaturesRejected(
                    f"{self.report.counts['rejected']} đối tượng không hợp lệ, không ghi gì. "
                    "Sửa tệp hoặc dùng --skip-invalid để chỉ nhập các đối tượng hợp lệ.",
                    f"{self.report.counts['rejected']} features are invalid; nothing was written. "
                    "Fix the file or pass --skip-invalid to import only the valid ones.",
                    report=self.report,
                )
            cursor.execute("ANALYZE ioc_import_stage")
            self._merge(cursor, columns)
            cursor.execute("DROP TABLE ioc_import_stage")

    def _prepare(self, batch, offset: int) -> Iterator[tuple]:
        """Validated rows for COPY; rejections go to the report."""
        t, report = self.target, self.report
        n = len(batch.rows)
        geoms = batch.geoms
        missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        geoms = np.where(missing, None, geoms)
        present = ~missing
        out = np.full(n, None, dtype=object)
        if present.any():
            g = shapely.force_2d(geoms[present])
            g = shapely.transform(g, self.crs.transform)
            out[present] = g
        out, bad_type = _coerce(out, t.geometry_type)
        valid = shapely.is_valid(out)
        invalid = present & ~valid & ~bad_type
        repaired: dict[int, str] = {}
        for i in np.flatnonzero(invalid):
            reason = shapely.is_valid_reason(out[i])
            fixed = shapely.make_valid(out[i])
            fixed_arr, still_bad = _coerce(np.array([fixed], dtype=object), t.geometry_type)
            fixed = fixed_arr[0]
            ok = not still_bad[0] and fixed is not None and shapely.is_valid(fixed)
            if ok and t.geometry_type.endswith("Polygon"):
                # Safe: the repair keeps an area (a ring collapsed to a line is not repaired).
                ok = shapely.area(fixed) > 0
            if ok:
                out[i] = fixed
                repaired[i] = reason
            else:
                out[i] = None
                bad_type[i] = True
                repaired[i] = "!" + reason
        bbox = (
            settings.IOC_PROVINCE_BBOX
            if self.options.extent == "province"
            else (settings.IOC_VIETNAM_BBOX)
        )
        margin = crsdetect.MARGIN if self.options.extent == "province" else 0.0
        bounds = shapely.bounds(out)
        outside = (
            (bounds[:, 0] < bbox[0] - margin)
            | (bounds[:, 1] < bbox[1] - margin)
            | (bounds[:, 2] > bbox[2] + margin)
            | (bounds[:, 3] > bbox[3] + margin)
        )
        hexes = shapely.to_wkb(shapely.set_srid(out, 4326), hex=True, include_srid=True)
        fields = list(self.mapping.fields.items())
        converters = self.converters
        for i, row in enumerate(batch.rows):
            src_row = offset + i + 1
            reasons = []
            if missing[i]:
                reasons.append("không có hình học / no geometry")
            elif bad_type[i]:
                if i in repaired:
                    reasons.append(
                        f"hình học không hợp lệ, không sửa an toàn được / invalid "
                        f"geometry, no safe repair: {repaired[i][1:]}"
                    )
                else:
                    reasons.append(
                        f"sai kiểu hình học: cần {t.geometry_type}, có "
                        f"{batch.geoms[i].geom_type} / wrong geometry type, expected "
                        f"{t.geometry_type}"
                    )
            elif not np.isfinite(bounds[i]).all() or outside[i]:
                c = bounds[i]
                where = "tỉnh" if self.options.extent == "province" else "Việt Nam"
                reasons.append(
                    f"nằm ngoài phạm vi {where} ({c[0]:.5f}, {c[1]:.5f}) / outside the "
                    f"{self.options.extent} extent"
                )
            values = []
            for name, src in fields:
                raw = src[1:] if src.startswith("=") else row.get(src)
                conv = converters.get(src)
                if conv is not None and isinstance(raw, str):
                    raw = conv(raw)
                try:
                    values.append(t.columns[name].convert(raw))
                except BadValue as exc:
                    reasons.append(f"{name} ({src}): {exc}")
            if reasons:
                self._reject(src_row, row, reasons)
                continue
            if i in repaired:
                report.counts["repaired"] += 1
                if len(report.repaired) < MAX_REASONS:
                    report.repaired.append({"row": src_row, "reason": repaired[i]})
            yield (src_row, *values, hexes[i])

    def _reject(self, src_row: int, row: dict | None, reasons: list[str]) -> None:
        report = self.report
        report.counts["rejected"] += 1
        if len(report.rejected) < MAX_REASONS:
            entry: dict[str, Any] = {"row": src_row, "reasons": reasons}
            if row is not None and self.target.key and self.target.key in self.mapping.fields:
                entry["key"] = row.get(self.mapping.fields[self.target.key])
            report.rejected.append(entry)

    def _reject_duplicates(self, cursor) -> None:
        key = self.target.key
        if not key or key not in self.mapping.fields or self.options.mode == "append":
            return
        col = self.target.columns[key].column
        cursor.execute(
            f'SELECT "{col}", array_agg(src_row ORDER BY src_row) FROM ioc_import_stage '
            f'GROUP BY "{col}" HAVING count(*) > 1'
        )
        dupes = cursor.fetchall()
        drop = []
        for value, rows in dupes:
            for r in rows[1:]:
                self.report.counts["rejected"] += 1
                if len(self.report.rejected) >= MAX_REASONS:
                    drop.append(r)
                    continue
                self.report.rejected.append(
                    {
                        "row": r,
                        "key": value,
                        "reasons": [
                            f"khoá {key}={value} trùng với dòng {rows[0]} / duplicate key "
                            f"{key}={value} (also row {rows[0]})"
                        ],
                    }
                )
                drop.append(r)
        if drop:
            cursor.execute("DELETE FROM ioc_import_stage WHERE src_row = ANY(%s)", [drop])

    def _merge(self, cursor, columns: list[str]) -> None:
        t, mode, counts = self.target, self.options.mode, self.report.counts
        q = '"{}"'.format
        table = q(t.table)
        where_t = " AND ".join(f"t.{q(c)} = %s" for c in t.filter) or "TRUE"
        fparams = list(t.filter.values())
        key = self.target.key if self.target.key in self.mapping.fields else None
        keycol = q(t.columns[key].column) if key else None
        all_cols = [*columns, t.geometry_column]
        if mode == "replace":
            if key:
                cursor.execute(
                    f"DELETE FROM {table} t WHERE {where_t} AND NOT EXISTS "
                    f"(SELECT 1 FROM ioc_import_stage s WHERE s.{keycol} = t.{keycol})",
                    fparams,
                )
            else:
                cursor.execute(f"DELETE FROM {table} t WHERE {where_t}", fparams)
            counts["deleted"] = cursor.rowcount
        if key and mode in ("upsert", "replace"):
            sets = ", ".join(f"{q(c)} = s.{q(c)}" for c in all_cols)
            t_row = ", ".join(f"t.{q(c)}" for c in all_cols)
            s_row = ", ".join(f"s.{q(c)}" for c in all_cols)
            cursor.execute(
                f"SELECT count(*) FROM {table} t JOIN ioc_import_stage s "
                f"ON s.{keycol} = t.{keycol} WHERE {where_t}",
                fparams,
            )
            matched = cursor.fetchone()[0]
            cursor.execute(
                f"UPDATE {table} t SET {sets} FROM ioc_import_stage s "
                f"WHERE s.{keycol} = t.{keycol} AND {where_t} "
                f"AND ({t_row}) IS DISTINCT FROM ({s_row})",
                fparams,
            )
            counts["updated"] = cursor.rowcount
            counts["unchanged"] = matched - cursor.rowcount
            not_existing = (
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{keycol} = s.{keycol} "
                f"AND {where_t})"
            )
        else:
            not_existing, fparams = "", []
        constants = {**self.mapping.defaults, **t.insert_constants}
        ins_cols = ", ".join(q(c) for c in [*all_cols, *constants])
        sel = ", ".join([f"s.{q(c)}" for c in all_cols] + ["%s" for _ in constants])
        cursor.execute(
            f"INSERT INTO {table} ({ins_cols}) SELECT {sel} FROM ioc_import_stage s "
            f"{not_existing} ORDER BY s.src_row",
            [*constants.values(), *fparams],
        )
        counts["inserted"] = cursor.rowcount


def run_import(
    path: str | Path,
    layer_id: str,
    options: Options,
    *,
    actor: Any,
    progress: Callable[[int, int | None], None] | None = None,
    show_progress: bool = False,
    target: Target | None = None,
) -> Report:
    """Import ``path`` into layer ``layer_id``; raises an ``ImportFailed`` (nothing written)."""
    target = target or target_for(layer_id, options.key)
    importer = Importer(
        path, target, options, actor=actor, progress=progress, show_progress=show_progress
    )
    # One transaction for the whole import: a failure leaves the layer untouched.
    with transaction.atomic():
        return importer.run()
