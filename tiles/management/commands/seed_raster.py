"""python manage.py seed_raster --layer dem_relief --zoom 0-12 [--bbox …] — MapProxy's seeder."""

from django.core.management.base import BaseCommand, CommandError

from layers.registry import registry


def _zooms(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition("-")
    try:
        return int(lo), int(hi or lo)
    except ValueError:
        raise CommandError(f"--zoom: expected like 0-12, got {text!r}") from None


class Command(BaseCommand):
    help = (
        "Tạo sẵn ô bản đồ raster bằng bộ seeder của MapProxy. / "
        "Pre-render raster tiles into MapProxy's cache with its own seeder."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--layer", action="append", help="raster layer id (repeatable)")
        parser.add_argument("--zoom", default="0-12")
        parser.add_argument("--bbox", help="minlon,minlat,maxlon,maxlat (default: the layer's)")
        parser.add_argument("--concurrency", type=int, default=1)

    def handle(self, layer, zoom, bbox, concurrency, **options) -> None:
        from mapproxy.config.loader import load_configuration
        from mapproxy.seed.config import SeedingConfiguration
        from mapproxy.seed.seeder import seed
        from mapproxy.seed.util import ProgressLog

        from tiles import mapproxy, raster

        rasters = {r.id: r for r in registry.raster_layers()}
        chosen = layer or list(rasters)
        unknown = [i for i in chosen if i not in rasters]
        if unknown:
            raise CommandError(f"Unknown raster layer(s) {unknown}; known: {sorted(rasters)}")
        lo, hi = _zooms(zoom)
        mapproxy._register_plugin()
        path = mapproxy.write_config()
        conf = load_configuration(mapproxy_conf=str(path), seed=True)
        seeds, coverages = {}, {}
        for layer_id in chosen:
            r = rasters[layer_id]
            raster.ensure_cog(r)
            box = [float(v) for v in bbox.split(",")] if bbox else list(r.bounds or ())
            seeds[layer_id] = {
                "caches": [f"{layer_id}_cache"],
                "grids": [mapproxy.GRID],
                "levels": {"from": lo, "to": hi},
            }
            if box:
                coverages[layer_id] = {"bbox": box, "srs": "EPSG:4326"}
                seeds[layer_id]["coverages"] = [layer_id]
        seeding = SeedingConfiguration({"seeds": seeds, "coverages": coverages}, conf)
        tasks = seeding.seeds(list(seeds))
        seed(
            tasks,
            concurrency=concurrency,
            progress_logger=ProgressLog(out=self.stdout, verbose=options["verbosity"] > 1),
        )
        self.stdout.write(self.style.SUCCESS(f"seeded {', '.join(chosen)} z{lo}–{hi}"))
