"""The field-report workflow: which status may follow which, and how long each category may take.

The database enforces the same table (``ioc_report_transition_ok`` is generated from it by
``layers/capture.py``), so QGIS or SQL edits obey it too.
"""

from datetime import timedelta

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("received", "rejected"),
    "received": ("assigned", "in_progress", "rejected"),
    "assigned": ("in_progress", "received", "rejected"),
    "in_progress": ("resolved", "assigned"),
    "resolved": ("closed", "in_progress"),  # reopened when the citizen disagrees
    "closed": ("received",),  # reopened after closing
    "rejected": ("received",),  # reconsidered
}

OPEN_STATUSES = ("new", "received", "assigned", "in_progress")

# Deadline from submission, per category (the province's processing rules for field reports).
SLA: dict[str, timedelta] = {
    "road_damage": timedelta(days=7),
    "traffic": timedelta(days=2),
    "flooding": timedelta(days=1),
    "waste": timedelta(days=3),
    "lighting": timedelta(days=5),
    "public_order": timedelta(days=1),
    "encroachment": timedelta(days=5),
    "construction": timedelta(days=10),
    "other": timedelta(days=7),
}


def can_transition(from_status: str, to_status: str) -> bool:
    return from_status == to_status or to_status in TRANSITIONS.get(from_status, ())
