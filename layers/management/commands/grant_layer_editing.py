"""Give a PostgreSQL role the rights GIS staff need to edit layers straight in PostGIS (QGIS)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from psycopg import sql

from layers.models import AdminUnit
from layers.registry import FeatureLayer, UnknownLayer, registry


class Command(BaseCommand):
    help = (
        "Cho phép một vai trò PostgreSQL sửa trực tiếp các lớp (QGIS). / "
        "Let a PostgreSQL role edit layers directly in PostGIS (QGIS). History and tile "
        "invalidation follow through the database triggers, attributed to that role."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("role", help="PostgreSQL role (created with LOGIN if missing)")
        parser.add_argument("--layers", nargs="*", help="layer ids (default: every editable layer)")
        parser.add_argument("--password", help="set this password on the role")

    def handle(self, role: str, layers: list[str] | None, password: str | None, **options) -> None:
        try:
            chosen = [registry.get(i) for i in layers] if layers else registry.feature_layers()
        except UnknownLayer as exc:
            raise CommandError(
                f"Unknown layer {exc.args[0]!r}. Known: {', '.join(registry.ids())}"
            ) from exc
        tables = sorted(
            {layer.table for layer in chosen if isinstance(layer, FeatureLayer) and layer.editable}
        )
        ident = sql.Identifier(role)
        connection.ensure_connection()

        def run(statement: sql.Composable) -> None:
            cursor.execute(statement.as_string(connection.connection))

        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone() is None:
                run(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
            if password:
                run(sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident, sql.Literal(password)))
            for table in tables:
                run(
                    sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
                        sql.Identifier(table), ident
                    )
                )
                cursor.execute(
                    "SELECT pg_get_serial_sequence(%s, 'id')", [connection.ops.quote_name(table)]
                )
                sequence = cursor.fetchone()[0]
                if sequence:
                    run(
                        sql.SQL("GRANT USAGE, SELECT ON SEQUENCE {} TO {}").format(
                            sql.SQL(sequence), ident
                        )
                    )
            # Derived attributes look up the commune of a point.
            run(
                sql.SQL("GRANT SELECT ON {} TO {}").format(
                    sql.Identifier(AdminUnit._meta.db_table), ident
                )
            )
        self.stdout.write(self.style.SUCCESS(f"{role}: may edit {', '.join(tables)}"))
