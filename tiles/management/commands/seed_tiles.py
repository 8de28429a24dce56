"""python manage.py seed_tiles --layer schools --zoom 0-12 [--bbox …] — fill the MVT cache."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from layers.registry import FeatureLayer, registry
from tiles import service, tilejson
from tiles.invalidation import tile_range


class _Seeder:
    """A system caller: sees every layer; ``private`` decides the audience seeded."""

    is_authenticated = True
    is_active = True
    is_staff = True

    def __init__(self, private: bool) -> None:
        self.private = private

    def has_perm(self, perm: str) -> bool:
        return self.private or ".view_private_" not in perm


class Command(BaseCommand):
    help = "Tạo sẵn ô bản đồ vector vào bộ đệm. / Pre-render vector tiles into the tile cache."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--layer", required=True, help="layer id, or several joined by ,")
        parser.add_argument("--zoom", default="0-12", help="e.g. 0-12 or 14")
        parser.add_argument("--bbox", help="minlon,minlat,maxlon,maxlat (default: the layer's)")
        parser.add_argument(
            "--audience",
            choices=["public", "full"],
            default="public",
            help="public: public attributes; full: with restricted attributes too",
        )

    def handle(self, layer, zoom, bbox, audience, **options) -> None:
        user = _Seeder(private=audience == "full")
        try:
            layers = service.resolve_layers(layer, user)
        except service.TileNotFound as exc:
            raise CommandError(
                f"Unknown layer {exc.args[0]!r}. Known: "
                + ", ".join(la.id for la in registry.feature_layers())
            ) from None
        lo, _, hi = zoom.partition("-")
        try:
            zmin, zmax = int(lo), int(hi or lo)
            box = tuple(float(v) for v in bbox.split(",")) if bbox else None
        except ValueError:
            raise CommandError("--zoom like 0-12, --bbox like 105.5,21.4,106.2,22.0") from None
        if box is None:
            extents = [tilejson.extent(la) for la in layers if isinstance(la, FeatureLayer)]
            box = (
                min(e[0] for e in extents),
                min(e[1] for e in extents),
                max(e[2] for e in extents),
                max(e[3] for e in extents),
            )
        if len(box) != 4:
            raise CommandError("--bbox needs four numbers")
        addresses = []
        for z in range(zmin, zmax + 1):
            x0, y0, x1, y1 = tile_range(box, z, 0.0, 0.0)
            addresses += [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
        rendered = hits = 0
        size = 0
        for z, x, y in tqdm(
            addresses,
            desc=f"{layer} z{zmin}-{zmax}",
            unit="tile",
            disable=options["verbosity"] == 0,
        ):
            tile = service.get_tile(layer, user, z, x, y)
            hits += tile.hit
            rendered += not tile.hit
            size += len(tile.data)
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(addresses)} tiles ({rendered} rendered, {hits} already cached, "
                f"{size / 1e6:.1f} MB)"
            )
        )
