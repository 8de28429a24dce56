"""Installs the change-capture and derived-attribute triggers for every registered layer.

Runs after every ``migrate`` (post_migrate), so the triggers always match the registry:
adding a layer in ``layers/catalog.py`` is enough. The SQL itself is in ``layers/sql/``.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import connection

from layers import models as m
from layers.registry import registry
from layers.reports import SLA, TRANSITIONS

SQL_DIR = Path(__file__).parent / "sql"

# BEFORE triggers that compute derived attributes, per model; they run in list order and
# before ioc_stamp (PostgreSQL fires triggers of one timing in name order).
DERIVE_TRIGGERS: dict[type, tuple[str, ...]] = {
    m.Camera: ("ioc_derive_camera_fov", "ioc_derive_commune"),
    m.School: ("ioc_derive_commune",),
    m.HealthFacility: ("ioc_derive_commune",),
    m.TrafficNode: ("ioc_derive_commune",),
    m.FieldReport: ("ioc_derive_commune", "ioc_report_defaults"),
    m.RoadSegment: ("ioc_derive_length",),
}
# AFTER triggers beside the capture.
AFTER_TRIGGERS: dict[type, tuple[str, ...]] = {m.FieldReport: ("ioc_report_status_log",)}


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def render_sql() -> str:
    transitions = ", ".join(
        f"({_literal(src)}, {_literal(dst)})" for src, dsts in TRANSITIONS.items() for dst in dsts
    )
    sla = ", ".join(
        f"({_literal(cat)}, interval {_literal(f'{int(d.total_seconds())} seconds')})"
        for cat, d in SLA.items()
    )
    sql = (SQL_DIR / "capture.sql").read_text()
    for token, value in {
        "adminunit": m.AdminUnit._meta.db_table,
        "history": m.FeatureHistory._meta.db_table,
        "statuslog": m.FieldReportStatusChange._meta.db_table,
        "channel": settings.IOC_CHANGE_CHANNEL,
        "transitions": transitions,
        "sla": sla,
    }.items():
        sql = sql.replace(f"@@{token}@@", value)
    return sql


def trigger_statements() -> list[str]:
    """DROP/CREATE statements attaching the triggers to every registered feature table."""
    statements = []
    for model in registry.models():
        table = connection.ops.quote_name(model._meta.db_table)
        layers = registry.for_model(model)
        # One layer per table: name it in the trigger; several (admin units): the row's
        # generated "layer" column names it.
        layer_arg = layers[0].id if len(layers) == 1 and not layers[0].filter else ""
        geometry_columns = [layers[0].geometry_field, *layers[0].secondary_geometry_fields]
        args = ", ".join(_literal(a) for a in [layer_arg, *geometry_columns])
        triggers = [
            (f"ioc_b{i:02d}_{fn}", "BEFORE INSERT OR UPDATE", fn, "")
            for i, fn in enumerate(DERIVE_TRIGGERS.get(model, ()))
        ]
        triggers.append(("ioc_bzz_stamp", "BEFORE INSERT OR UPDATE", "ioc_stamp", ""))
        triggers.append(("ioc_capture_insdel", "AFTER INSERT OR DELETE", "ioc_capture", args))
        triggers.append(
            ("ioc_capture_upd", "AFTER UPDATE", "ioc_capture", args, "OLD.* IS DISTINCT FROM NEW.*")
        )
        triggers.extend(
            (f"ioc_log_{fn}", "AFTER INSERT OR UPDATE", fn, "")
            for fn in AFTER_TRIGGERS.get(model, ())
        )
        # Drop every ioc_ trigger first so removed or renamed ones don't linger.
        statements.append(
            "DO $$ DECLARE t record; BEGIN FOR t IN SELECT tgname FROM pg_trigger "
            f"WHERE tgrelid = {_literal(model._meta.db_table)}::regclass AND tgname LIKE 'ioc\\_%' "
            f"LOOP EXECUTE format('DROP TRIGGER %I ON {table}', t.tgname); END LOOP; END $$"
        )
        for name, timing, fn, fn_args, *when in triggers:
            condition = f" WHEN ({when[0]})" if when else ""
            statements.append(
                f"CREATE TRIGGER {name} {timing} ON {table} FOR EACH ROW{condition} "
                f"EXECUTE FUNCTION {fn}({fn_args})"
            )
    return statements


def install(using: str = "default") -> None:
    from django.db import connections, transaction

    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(render_sql())
        for statement in trigger_statements():
            cursor.execute(statement)
