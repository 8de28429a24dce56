"""Real administrative units (2025, 2024, 2009 generations) and the old → new commune crosswalk."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date

from layers.demo import ACTOR, sources
from layers.demo.db import HalfLoaded, copy_rows, execute, fetch, section_state
from layers.demo.sources import DemoDataError, Unit

REFORM_DAY = date(2025, 7, 1)
LAST_PRE_REFORM_DAY = date(2025, 6, 30)
EXPECTED_LAYERS = {"province": 1, "communes": 92, "districts_2024": 17, "communes_2009": 303}

STAGE_COLUMNS = (
    "ord",
    "code",
    "code_is_official",
    "name",
    "full_name",
    "kind",
    "level",
    "generation",
    "parent_generation",
    "parent_level",
    "parent_code",
    "population",
    "population_year",
    "area_km2",
    "valid_from",
    "valid_to",
    "source",
    "geojson",
)
UNIT_COLUMNS = (
    "code",
    "code_is_official",
    "name",
    "full_name",
    "kind",
    "level",
    "generation",
    "population",
    "population_year",
    "area_km2",
    "valid_from",
    "valid_to",
    "source",
)


def planned_units() -> list[dict]:
    """Every unit to load, parents before children, as staging rows."""
    pop_2009: dict[str, int] = defaultdict(int)
    for commune in sources.communes_2009():
        pop_2009[commune.parent_code] += commune.population or 0
    district_province = {d.code: d.parent_code for d in sources.districts_2024()}
    province_pop: dict[str, int] = defaultdict(int)
    for code, population in pop_2009.items():
        province_pop[district_province[code]] += population

    def row(unit: Unit, level: str, generation: str, **extra) -> dict:
        return {
            "code": unit.code,
            "code_is_official": True,
            "name": unit.name,
            "full_name": unit.full_name,
            "kind": unit.kind,
            "level": level,
            "generation": generation,
            "parent_generation": None,
            "parent_level": None,
            "parent_code": None,
            "population": unit.population,
            "population_year": None,
            "area_km2": unit.area_km2,
            "valid_from": None,
            "valid_to": None,
            "source": unit.source,
            "geojson": json.dumps(unit.geometry),
            **extra,
        }

    province = sources.province_2025()
    rows = [row(province, "province", "2025", valid_from=REFORM_DAY)]
    rows += [
        row(
            p,
            "province",
            "2024",
            valid_to=LAST_PRE_REFORM_DAY,
            population=province_pop[p.code],
            population_year=2009,
        )
        for p in sources.provinces_2024()
    ]
    rows += [
        row(
            c,
            "commune",
            "2025",
            valid_from=REFORM_DAY,
            parent_generation="2025",
            parent_level="province",
            parent_code=province.code,
        )
        for c in sources.communes_2025()
    ]
    rows += [
        row(
            d,
            "district",
            "2024",
            valid_to=LAST_PRE_REFORM_DAY,
            parent_generation="2024",
            parent_level="province",
            parent_code=d.parent_code,
            population=pop_2009[d.code],
            population_year=2009,
        )
        for d in sources.districts_2024()
    ]
    rows += [
        row(
            c,
            "commune",
            "2009",
            code_is_official=False,
            valid_to=LAST_PRE_REFORM_DAY,
            parent_generation="2024",
            parent_level="district",
            parent_code=c.parent_code,
            population_year=2009 if c.population else None,
        )
        for c in sources.communes_2009()
    ]
    for i, r in enumerate(rows):
        r["ord"] = i
    return rows


def load_units() -> tuple[int, str] | None:
    """Insert the admin units; None when they are all there already."""
    rows = planned_units()
    expected = {(r["generation"], r["level"], r["code"]) for r in rows}
    present = {
        key
        for key in fetch("SELECT generation, level, code FROM layers_adminunit")
        if tuple(key) in expected
    }
    if not section_state(
        "admin units",
        expected,
        {tuple(k) for k in present},
        "Delete the administrative units (and what refers to them) or use a fresh database, "
        "then run load_demo again.",
    ):
        return None
    execute(
        "CREATE TEMP TABLE demo_stage_units ("
        "ord int, code text, code_is_official boolean, name text, full_name text, kind text, "
        "level text, generation text, parent_generation text, parent_level text, "
        "parent_code text, population int, population_year int, area_km2 float8, "
        "valid_from date, valid_to date, source text, geojson text) ON COMMIT DROP"
    )
    copy_rows("demo_stage_units", STAGE_COLUMNS, ([r[c] for c in STAGE_COLUMNS] for r in rows))
    cols = ", ".join(UNIT_COLUMNS)
    values = ", ".join(
        "coalesce(f.area_km2, round((ST_Area(f.geom::geography) / 1e6)::numeric, 2))"
        if c == "area_km2"
        else f"f.{c}"
        for c in UNIT_COLUMNS
    )
    # Parents first: one statement per (generation, level), in plan order.
    groups = list(dict.fromkeys((r["generation"], r["level"]) for r in rows))
    for generation, level in groups:
        execute(
            f"""
            WITH src AS (
              SELECT s.*, ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(s.geojson), 4326)) AS g
              FROM demo_stage_units s WHERE s.generation = %s AND s.level = %s
            ), f AS (
              SELECT src.*, ST_Multi(ST_CollectionExtract(
                CASE WHEN ST_IsValid(g) THEN g ELSE ST_MakeValid(g) END, 3)) AS geom
              FROM src
            )
            INSERT INTO layers_adminunit ({cols}, parent_id, geom)
            SELECT {values}, p.id, f.geom
            FROM f
            LEFT JOIN layers_adminunit p ON p.generation = f.parent_generation
              AND p.level = f.parent_level AND p.code = f.parent_code
            ORDER BY f.ord
            """,
            [generation, level],
        )
    orphans = fetch(
        "SELECT s.full_name FROM demo_stage_units s JOIN layers_adminunit u "
        "ON (u.generation, u.level, u.code) = (s.generation, s.level, s.code) "
        "WHERE s.parent_code IS NOT NULL AND u.parent_id IS NULL"
    )
    if orphans:
        raise DemoDataError(f"units without their parent: {[o[0] for o in orphans][:5]}")
    check_layers()
    return len(rows), "1 + 92 (2025), 2 + 17 (2024), 303 (2009)"


def check_layers() -> None:
    counts = dict(
        fetch("SELECT layer, count(*) FROM layers_adminunit WHERE layer IS NOT NULL GROUP BY layer")
    )
    if any(counts.get(layer, 0) != n for layer, n in EXPECTED_LAYERS.items()):
        others = fetch(
            "SELECT layer, code, name, created_by FROM layers_adminunit "
            "WHERE layer IS NOT NULL AND created_by <> %s ORDER BY layer, code LIMIT 5",
            [ACTOR],
        )
        raise DemoDataError(
            f"admin layer counts {counts}, expected {EXPECTED_LAYERS}"
            + (f"; rows not written by the demo loader: {others}" if others else "")
        )
    bad = fetch(
        "SELECT count(*) FROM layers_adminunit WHERE layer IS NOT NULL AND "
        "(NOT ST_IsValid(geom) OR ST_IsEmpty(geom))"
    )[0][0]
    if bad:
        raise DemoDataError(f"{bad} admin units have an invalid or empty geometry")


CROSSWALK_COLUMNS = (
    "old_code",
    "old_name",
    "old_district_code",
    "old_district_name",
    "old_province_code",
    "old_district_id",
    "new_unit_id",
    "merge_type",
)


def load_crosswalk() -> tuple[int, str] | None:
    rows = sources.crosswalk()
    expected = {(r.old_code, r.new_code) for r in rows}
    present = {
        tuple(k)
        for k in fetch(
            "SELECT x.old_code, u.code FROM layers_communecrosswalk x "
            "JOIN layers_adminunit u ON u.id = x.new_unit_id"
        )
    }
    if not section_state(
        "commune crosswalk",
        expected,
        present,
        "Delete the rows of layers_communecrosswalk and run load_demo again.",
    ):
        return None
    new_units = dict(fetch("SELECT code, id FROM layers_adminunit WHERE layer = 'communes'"))
    districts = dict(fetch("SELECT code, id FROM layers_adminunit WHERE layer = 'districts_2024'"))
    missing = sorted({r.new_code for r in rows} - set(new_units))
    if missing:
        raise DemoDataError(f"crosswalk names new communes that are not loaded: {missing}")
    copy_rows(
        "layers_communecrosswalk",
        CROSSWALK_COLUMNS,
        (
            (
                r.old_code,
                r.old_name,
                r.old_district_code,
                r.old_district_name,
                r.old_province_code,
                districts.get(r.old_district_code),
                new_units[r.new_code],
                r.merge_type,
            )
            for r in rows
        ),
    )
    without_district = sum(1 for r in rows if r.old_district_code not in districts)
    partial = sum(1 for r in rows if r.merge_type == "partial")
    note = f"{len({r.old_code for r in rows})} old communes, {partial} partial"
    if without_district:
        note += f", {without_district} without a 2024 district"
    return len(rows), note


__all__ = ["HalfLoaded", "load_crosswalk", "load_units"]
