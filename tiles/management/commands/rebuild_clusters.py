"""python manage.py rebuild_clusters [layer …] — recompute point-cluster pyramids from the data."""

from django.core.management.base import BaseCommand, CommandError

from tiles import clusters


class Command(BaseCommand):
    help = (
        "Tính lại tháp cụm điểm của ô bản đồ vector từ dữ liệu. / "
        "Recompute the point-cluster pyramids of the vector tiles from the data."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("layers", nargs="*", help="layer ids (default: every clustered layer)")

    def handle(self, layers, **options) -> None:
        known = {layer.id for layer, _ in clusters.pyramids()}
        unknown = sorted(set(layers) - known)
        if unknown:
            raise CommandError(
                f"Không có tháp cụm cho / No cluster pyramid for: {', '.join(unknown)}. "
                f"Lớp có tháp / Layers with one: {', '.join(sorted(known)) or '-'}"
            )

        def say(message: str) -> None:
            self.stdout.write(message)
            self.stdout.flush()

        count = clusters.install(force=True, layers=set(layers) or None, say=say)
        self.stdout.write(
            self.style.SUCCESS(f"Đã tính lại {count} tháp cụm. / Rebuilt {count} pyramid(s).")
        )
