"""Typed import errors: each says what is wrong and what to do, in Vietnamese and English.

Raised before anything is written (or inside the import's transaction, which then rolls
back): an ``ImportFailed`` always means nothing reached the layer.
"""

from __future__ import annotations

from typing import Any

from django.utils import translation


class ImportFailed(Exception):
    """Base class; ``code`` is stable for scripts and tests, the message is for people."""

    code = "import_failed"

    def __init__(self, vi: str, en: str, **details: Any) -> None:
        self.vi, self.en, self.details = vi, en, details
        super().__init__(f"{vi} / {en}")

    @property
    def message(self) -> str:
        """The message in the active language: English alone under "en"; otherwise (the
        Vietnamese default) both, as before, since logs and stored jobs are read by both."""
        if (translation.get_language() or "").split("-")[0] == "en":
            return self.en
        return f"{self.vi} / {self.en}"

    def __str__(self) -> str:
        return self.message


class UnknownLayerError(ImportFailed):
    code = "unknown_layer"


class UnsupportedFormat(ImportFailed):
    code = "unsupported_format"


class NotWhatItSays(ImportFailed):
    code = "content_mismatch"


class EmptySource(ImportFailed):
    code = "empty_source"


class MissingSidecar(ImportFailed):
    code = "missing_sidecar"


class UnsafeArchive(ImportFailed):
    code = "unsafe_archive"


class UnreadableSource(ImportFailed):
    code = "unreadable_source"


class FieldMapError(ImportFailed):
    code = "field_map"


class FieldTypeMismatch(ImportFailed):
    code = "field_type_mismatch"


class GeometryTypeMismatch(ImportFailed):
    code = "geometry_type_mismatch"


class MissingRequiredField(ImportFailed):
    code = "missing_required_field"


class MissingCoordinates(ImportFailed):
    code = "missing_coordinates"


class CRSNotDetected(ImportFailed):
    code = "crs_not_detected"


class FeaturesRejected(ImportFailed):
    """Some features failed validation and ``--skip-invalid`` was not given; the report
    (``details["report"]``) lists every one with its reasons."""

    code = "features_rejected"


class WriteFailed(ImportFailed):
    code = "write_failed"
