"""Vietnamese is the source language; English comes from the gettext catalogs of layers/ and geo/.

The catalogs' compiled ``django.mo`` files are committed, so set-up needs no gettext tools;
the catalog tests below check, without gettext, that every string the code marks is in the
catalog, translated, and compiled.
"""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from importers.report import Report
from layers import services
from layers.models import AdminUnit, Camera, FieldReport, HealthFacility
from layers.validation import validate_geometry

BASE = Path(settings.BASE_DIR)
APPS = ("layers", "geo", "importers")
# Not user-facing or not ours to extract (same exclusions as makemessages in the report).
SKIP_DIRS = {"demo", "migrations", "management", "locale", "__pycache__", "static"}
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "gettext_noop"}
PGETTEXT_NAMES = {"pgettext", "pgettext_lazy"}
TEMPLATE_TAG = re.compile(r"""{%\s*(?:translate|trans)\s+(?:"((?:[^"\\]|\\.)*)"|'([^']*)')""")


# --- A tiny .po reader (no polib dependency) ------------------------------------------------
def read_po(path: Path) -> list[dict]:
    """Entries of a .po file: msgid, msgstr, flags; the header entry (msgid "") is skipped."""
    entries, current, field = [], None, None

    def finish():
        if current is not None and current["msgid"]:
            entries.append(current)

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            finish()
            current, field = None, None
            continue
        if current is None:
            current = {
                "msgctxt": None,
                "msgid": "",
                "msgstr": "",
                "flags": set(),
                "obsolete": False,
            }
        if line.startswith("#~"):
            current["obsolete"] = True
        elif line.startswith("#,"):
            current["flags"].update(f.strip() for f in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith(("msgid_plural", "msgstr[")):
            raise AssertionError(f"{path}: plural entries need the parser extended")
        elif line.startswith("msgctxt "):
            field = "msgctxt"
            current[field] = ast.literal_eval(line[8:])
        elif line.startswith("msgid "):
            field = "msgid"
            current[field] = ast.literal_eval(line[6:])
        elif line.startswith("msgstr "):
            field = "msgstr"
            current[field] = ast.literal_eval(line[7:])
        elif line.startswith('"'):
            current[field] += ast.literal_eval(line)
    finish()
    return entries


def catalog_path(app: str, suffix: str = "po") -> Path:
    return BASE / app / "locale" / "en" / "LC_MESSAGES" / f"django.{suffix}"


def marked_strings(app: str) -> set[tuple[str | None, str]]:
    """Every (context, literal) the app's code and templates mark for translation."""
    found: set[tuple[str | None, str]] = set()
    for path in (BASE / app).rglob("*"):
        if SKIP_DIRS & set(path.relative_to(BASE / app).parts):
            continue
        if path.suffix == ".py":
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in GETTEXT_NAMES
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                ):
                    found.add((None, node.args[0].value))
                elif (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in PGETTEXT_NAMES
                    and len(node.args) >= 2
                    and all(isinstance(a, ast.Constant) for a in node.args[:2])
                ):
                    found.add((node.args[0].value, node.args[1].value))
        elif path.suffix in {".html", ".txt"}:
            text = path.read_text(encoding="utf-8")
            assert "blocktrans" not in text, f"{path}: extend marked_strings for blocktranslate"
            for double, single in TEMPLATE_TAG.findall(text):
                found.add((None, double.replace('\\"', '"') if double else single))
    return found


PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[sdfr%]")


@pytest.mark.parametrize("app", APPS)
def test_every_marked_string_is_in_the_english_catalog(app):
    catalog = {(e["msgctxt"], e["msgid"]) for e in read_po(catalog_path(app))}
    missing = sorted(marked_strings(app) - catalog)
    assert not missing, (
        f"strings of {app}/ missing from its en catalog — run "
        f"`cd {app} && ../manage.py makemessages -l en --no-obsolete --ignore 'demo/*' "
        f"--ignore 'migrations/*' --ignore 'management/*'`, translate, compilemessages: {missing}"
    )


@pytest.mark.parametrize("app", APPS)
def test_every_catalog_entry_is_translated_and_compiled(app):
    entries = read_po(catalog_path(app))
    assert entries
    untranslated = [e["msgid"] for e in entries if not e["msgstr"].strip()]
    assert not untranslated, f"untranslated in {app}/locale/en: {untranslated}"
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert not fuzzy, f"fuzzy entries in {app}/locale/en: {fuzzy}"
    obsolete = [e["msgid"] for e in entries if e["obsolete"]]
    assert not obsolete, f"obsolete entries in {app}/locale/en: {obsolete}"
    for e in entries:
        assert sorted(PLACEHOLDER.findall(e["msgid"])) == sorted(
            PLACEHOLDER.findall(e["msgstr"])
        ), f"placeholders differ: {e['msgid']!r} → {e['msgstr']!r}"
    # The committed .mo is what Django reads: it must match the .po (compilemessages was run).
    with catalog_path(app, "mo").open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = [
        e["msgid"]
        for e in entries
        if (
            compiled.pgettext(e["msgctxt"], e["msgid"])
            if e["msgctxt"]
            else compiled.gettext(e["msgid"])
        )
        != e["msgstr"]
    ]
    assert not stale, f"{app}/locale/en/LC_MESSAGES/django.mo is stale, recompile: {stale}"


# --- Models, choices and messages in both languages ------------------------------------------
def test_model_metadata_follows_the_active_language():
    with translation.override("en"):
        assert str(Camera._meta.verbose_name) == "camera"
        assert str(Camera._meta.get_field("bearing").verbose_name) == "bearing (°)"
        assert Camera.Status.OFFLINE.label == "Offline"
        assert AdminUnit.Kind.PHUONG.label == "Ward"
        assert AdminUnit.Kind.XA.label == "Commune"
        assert AdminUnit.Kind.THI_TRAN.label == "Township"
        assert HealthFacility.Kind.HEALTH_STATION.label == "Commune health station"
        assert str(FieldReport._meta.verbose_name) == "citizen field report"
        assert Camera(status="offline").get_status_display() == "Offline"
    with translation.override("vi"):
        assert str(Camera._meta.verbose_name) == "camera"
        assert str(Camera._meta.get_field("bearing").verbose_name) == "hướng nhìn (°)"
        assert Camera.Status.OFFLINE.label == "Mất kết nối"
        assert AdminUnit.Kind.PHUONG.label == "Phường"
        assert str(FieldReport._meta.verbose_name) == "phản ánh hiện trường"


def test_languages_are_named_in_the_active_language():
    with translation.override("en"):
        assert [str(name) for _code, name in settings.LANGUAGES] == ["Vietnamese", "English"]
    with translation.override("vi"):
        assert str(dict(settings.LANGUAGES)["vi"]) == "Tiếng Việt"


def test_validation_messages_follow_the_active_language():
    outside = Point(150.0, 10.0, srid=4326)
    field = Camera._meta.get_field("geom")
    with translation.override("en"):
        assert validate_geometry(outside, field) == [
            "The location is outside Vietnam (longitude 150.00000, latitude 10.00000)."
        ]
        assert validate_geometry(None, field) == ["The geometry is missing."]
    with translation.override("vi"):
        assert validate_geometry(outside, field) == [
            "Vị trí nằm ngoài lãnh thổ Việt Nam (kinh độ 150.00000, vĩ độ 10.00000)."
        ]


@pytest.mark.django_db
def test_service_errors_follow_the_active_language():
    camera = Camera.objects.order_by("pk").first()
    with translation.override("en"), pytest.raises(services.VersionConflict) as exc:
        services.do_update_feature(
            "cameras", camera.pk, {}, expected_version=camera.version + 7, actor="test_i18n"
        )
    assert exc.value.message.startswith("Someone else has changed this feature")
    assert f"current version {camera.version}" in exc.value.message
    with translation.override("vi"), pytest.raises(services.InvalidFeature) as exc:
        services.do_update_feature(
            "cameras", camera.pk, {"no_such": 1}, expected_version=None, actor="test_i18n"
        )
    assert exc.value.message == "Thuộc tính không có hoặc không được sửa: no_such"


# --- The admin, by Accept-Language, by cookie and by /i18n/setlang/ --------------------------
ENGLISH_CHANGELIST = ("Camera code", "Last seen online", "Commune/ward", "Offline", "Data layers")
VIETNAMESE_CHANGELIST = ("Mã camera", "Lần cuối trực tuyến", "Xã/phường", "Mất kết nối")


@pytest.fixture
def admin_client(client, users):
    client.force_login(users["admin"])
    return client


def _assert_english(html: str) -> None:
    for text in ENGLISH_CHANGELIST:
        assert text in html, text
    for text in VIETNAMESE_CHANGELIST:
        assert text not in html, text


def _assert_vietnamese(html: str) -> None:
    for text in VIETNAMESE_CHANGELIST:
        assert text in html, text
    assert "Last seen online" not in html


@pytest.mark.django_db
def test_admin_changelist_by_accept_language(admin_client):
    url = reverse("admin:layers_camera_changelist")
    english = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 200
    assert english["Content-Language"] == "en"
    _assert_english(english.content.decode())
    # Vietnamese is the default, and what a Vietnamese browser asks for.
    for headers in ({}, {"HTTP_ACCEPT_LANGUAGE": "vi"}):
        vietnamese = admin_client.get(url, **headers)
        assert vietnamese["Content-Language"] == "vi"
        _assert_vietnamese(vietnamese.content.decode())


@pytest.mark.django_db
def test_admin_changelist_by_language_cookie(admin_client):
    url = reverse("admin:layers_camera_changelist")
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    # The explicit choice wins over what the browser asks for.
    _assert_english(admin_client.get(url, HTTP_ACCEPT_LANGUAGE="vi").content.decode())


@pytest.mark.django_db
def test_admin_changelist_after_setlang(admin_client):
    url = reverse("admin:layers_camera_changelist")
    response = admin_client.post(reverse("set_language"), {"language": "en", "next": url})
    assert response.status_code == 302 and response["Location"] == url
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    _assert_english(admin_client.get(url).content.decode())
    admin_client.post(reverse("set_language"), {"language": "vi", "next": url})
    _assert_vietnamese(admin_client.get(url).content.decode())


@pytest.mark.django_db
def test_admin_history_page_in_english(admin_client):
    camera = Camera.objects.order_by("pk").first()
    url = reverse("admin:layers_camera_history", args=[camera.pk])
    html = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for text in ("Change history:", "Operation", "Database role", "Changed by", "Created"):
        assert text in html, text
    assert "Thao tác" not in html and "Vai trò CSDL" not in html
    html = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="vi").content.decode()
    assert "Thao tác" in html and "Lịch sử thay đổi:" in html


# --- The importers: errors, the command's report and the upload page ------------------------
@pytest.mark.django_db
def test_import_errors_follow_the_active_language(tmp_path):
    path = tmp_path / "truong.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with translation.override("en"), pytest.raises(CommandError) as exc:
        call_command("import_vector", str(path), layer="no_such", no_progress=True)
    assert str(exc.value).startswith("[unknown_layer] Unknown layer 'no_such'. Layers: ")
    assert "Không có lớp" not in str(exc.value)
    # Vietnamese, the default, keeps both languages (logs and stored jobs are read by both).
    with translation.override("vi"), pytest.raises(CommandError) as exc:
        call_command("import_vector", str(path), layer="no_such", no_progress=True)
    assert str(exc.value).startswith("[unknown_layer] Không có lớp “no_such”. Các lớp: ")
    assert " / Unknown layer 'no_such'." in str(exc.value)


def test_import_report_follows_the_active_language():
    report = Report(source="truong.csv", layer="schools", mode="upsert", key="code", dry_run=True)
    report.counts.update(read=3, inserted=2, rejected=1)
    report.rejected.append({"row": 3, "key": "T-3", "reasons": ["no geometry"]})
    report.error = {"code": "features_rejected", "message": "1 invalid"}
    with translation.override("en"):
        text = report.to_text()
    assert text.splitlines()[0] == (
        "Import: truong.csv → schools (upsert, key code, DRY RUN — nothing written)"
    )
    for line in ("  Inserted: 2", "  Rejected: 1", "  rejected row 3 [T-3]: no geometry"):
        assert line in text.splitlines(), line
    assert "ERROR [features_rejected]: 1 invalid" in text and "Thêm mới" not in text
    with translation.override("vi"):
        text = report.to_text()
    assert "  Thêm mới / inserted: 2" in text.splitlines()
    assert "LỖI / ERROR [features_rejected]: 1 invalid" in text


@pytest.mark.django_db
def test_import_upload_page_in_english(admin_client):
    english = admin_client.get("/admin/importers/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for text in ("Import data into a layer", "Recent imports", "Target layer", "Dry run"):
        assert text in english, text
    assert "Lớp đích" not in english and "Các lượt nhập gần đây" not in english
    vietnamese = admin_client.get("/admin/importers/").content.decode()
    assert "Nhập dữ liệu vào lớp / Import data into a layer" in vietnamese
    assert "Lớp đích / Target layer" in vietnamese
