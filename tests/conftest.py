"""Test fixtures: one real PostGIS test database, migrated and loaded with the demo data once.

Tests run in transactions rolled back after each test (pytest-django's ``db``), or, where a
real commit is needed (LISTEN/NOTIFY, other database roles, live servers), with
``transactional_db`` and clean-up of what they wrote.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.fixture(scope="session")
def django_db_setup(
    request, django_test_environment, django_db_blocker, django_db_modify_db_settings
):
    """One test database, migrated and loaded with the Thái Nguyên demo data once per session.

    Replaces pytest-django's fixture, which creates databases only for tests marked
    ``django_db``: a session whose first tests use ``committed`` or ``live_url`` would
    otherwise run against the development database.
    """
    from django.test.utils import setup_databases, teardown_databases

    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        created = setup_databases(
            verbosity=verbosity, interactive=False, keepdb=False, aliases={"default"}
        )
        call_command("load_demo", verbosity=0)
    yield
    from geo.db import warm_connections

    with django_db_blocker.unblock():
        warm_connections.close_all()  # the fast paths' connections, lent in process
        teardown_databases(created, verbosity=verbosity)


@pytest.fixture
def users(request):
    """Accounts for each role: anonymous is None; the demo groups give the permissions.

    Inside a rolled-back ``db`` test by default; committed (and deleted afterwards) when the
    test also uses ``committed``.
    """
    from django.contrib.auth.models import Group, User

    committing = "committed" in request.fixturenames
    request.getfixturevalue("committed" if committing else "db")
    made = {}
    for name, group, staff in [
        ("viewer", None, False),
        ("staffer", None, True),
        ("operator", "Vận hành IOC", True),
        ("editor", "Biên tập GIS", True),
    ]:
        user = User.objects.create_user(f"t_{name}", password="pw-test-123!", is_staff=staff)
        if group:
            user.groups.add(Group.objects.get(name=group))
        made[name] = user
    made["admin"] = User.objects.create_superuser("t_admin", password="pw-test-123!")
    yield made
    if committing:
        User.objects.filter(pk__in=[u.pk for u in made.values()]).delete()


# --- Real commits ------------------------------------------------------------------------------
# Never use pytest-django's ``transactional_db``/``live_server`` here: they TRUNCATE every
# table after the test and would wipe the session's demo data. Use ``committed`` and
# ``live_url`` instead.
def _feature_tables() -> list[str]:
    from layers.models import FeatureHistory, FieldReportStatusChange
    from layers.registry import registry

    # Children first so deletes don't trip foreign keys; history last (deletes write history).
    tables = [FieldReportStatusChange._meta.db_table]
    tables += [model._meta.db_table for model in reversed(list(registry.models()))]
    return [*tables, FeatureHistory._meta.db_table]


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """Autocommit database access; rows a test inserts are deleted afterwards.

    Tests that change pre-existing demo rows must restore them themselves.
    """
    from django.db import connection

    with django_db_blocker.unblock():
        marks = {}
        with connection.cursor() as cursor:
            for table in _feature_tables():
                cursor.execute(f'SELECT coalesce(max(id), 0) FROM "{table}"')
                marks[table] = cursor.fetchone()[0]
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                for table, mark in marks.items():
                    cursor.execute(f'DELETE FROM "{table}" WHERE id > %s', [mark])
                # The deletes above wrote history rows of their own.
                history = _feature_tables()[-1]
                cursor.execute(f'DELETE FROM "{history}" WHERE id > %s', [marks[history]])


def start_server(env: dict[str, str], log_path) -> tuple[str, object]:
    """Start granian (as `make run` serves the platform) and wait until it answers."""
    from pathlib import Path

    from geo.processes import start_server as start

    # Static files from the finders: a stale collectstatic output must not hide new assets.
    return start({"IOC_STATIC_FROM_FINDERS": "1", **env}, Path(log_path))


@pytest.fixture(scope="session")
def live_url(django_db_setup, django_db_blocker, tmp_path_factory) -> str:
    """The real server (granian) on the test database.

    It sees committed data only: combine with ``committed`` for data a test creates.
    """
    from geo.db import database_url

    env = {
        "DATABASE_URL": database_url(),
        "IOC_TILE_CACHE_DIR": str(tmp_path_factory.mktemp("tile-cache")),
    }
    from geo.processes import stop_process

    url, process = start_server(env, tmp_path_factory.mktemp("live") / "server.log")
    with django_db_blocker.unblock():
        yield url
    stop_process(process)


def run_qgis(script: str, *args: str) -> dict:
    """Run ``tests/qgis/<script>`` with the system Python that has QGIS (python3-qgis), offscreen;
    returns the JSON object its last output line prints."""
    import json
    import os
    import subprocess
    from pathlib import Path

    result = subprocess.run(
        ["/usr/bin/python3", str(Path(__file__).parent / "qgis" / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": ""},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


class FastPathProbe:
    """A fast-path handler (geo/fastpath.py) in front of a stand-in for Django, called in
    process: what the fast path answered, and which requests reached "Django" (``passed``:
    the path, with ``?query`` when the request carried a query string)."""

    def __init__(self, handler) -> None:
        from geo.fastpath import FastPaths

        self.passed: list[str] = []
        self.app = FastPaths(self._django, (handler,))

    def _django(self, environ, start_response):
        query = environ.get("QUERY_STRING")
        self.passed.append(environ["PATH_INFO"] + ("" if query is None else f"?{query}"))
        start_response("404 Not Found", [])
        return [b"django"]

    def __call__(
        self, path: str, method: str = "GET", query: str | None = None, **environ: str
    ) -> tuple[str, dict[str, str], bytes]:
        """(status, headers, body) of one request; ``environ`` adds or replaces WSGI keys."""
        request = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "HTTP_HOST": "127.0.0.1:8000",
            "wsgi.url_scheme": "http",
            **environ,
        }
        if query is not None:
            request["QUERY_STRING"] = query
        answered = []
        response = self.app(
            request, lambda status, headers, *exc: answered.append((status, headers))
        )
        body = b"".join(response)
        if hasattr(response, "close"):  # as a WSGI server does (a miss's cache write)
            response.close()
        return answered[0][0], dict(answered[0][1]), body


def wait_until(condition, timeout: float = 10.0, what: str = "the condition") -> None:
    """Poll ``condition()`` until it is true (a real server writes a missed tile to its cache
    once the response is out, tiles/service.py: render_tile)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def cached_tile_file(cache_dir, path: str, key: str | None = None, audience: str = "public"):
    """The cache file of a tile URL path ``/tiles/<key>/<z>/<x>/<y>.mvt``."""
    _, _, url_key, z, x, y = path.split("/")
    return cache_dir / (key or url_key) / audience / z / x / y


def wait_for_cached(cache_dir, path: str, **kwargs) -> None:
    """Wait until the server has written the tile at ``path`` to its cache."""
    file = cached_tile_file(cache_dir, path, **kwargs)
    wait_until(file.exists, what=str(file))
