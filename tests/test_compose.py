"""docker-compose.yml stays a valid production topology (no Docker engine needed).

`docker-compose config` (Debian's v1 or the v2 plugin binary) parses, interpolates and
validates the file without contacting an engine. Skipped only on a developer machine without
the binary; in CI (CI=true) a missing binary is a failure.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"


def _compose_config() -> dict:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed (scripts/bootstrap.sh test installs it)")
        pytest.skip("docker-compose is not installed")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "IOC_SECRET_KEY": "test-secret-key",
        "IOC_DB_PASSWORD": "test-db-password",
        "IOC_ALLOWED_HOSTS": "ioc.example.test",
    }
    result = subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def _mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) of each volume entry, short or long syntax."""
    mounts = []
    for entry in service.get("volumes", []):
        if isinstance(entry, str):
            source, target = entry.split(":")[:2]
        else:
            source, target = entry.get("source", ""), entry["target"]
        mounts.append((source, target))
    return mounts


@pytest.fixture(scope="module")
def config() -> dict:
    return _compose_config()


def test_services_present(config):
    assert {"db", "app", "listener", "nginx"} <= set(config["services"])


def test_app_and_listener_share_image_and_database(config):
    app, listener = config["services"]["app"], config["services"]["listener"]
    assert app["image"] == listener["image"]
    assert "listen_changes" in listener["command"]
    for service in (app, listener):
        assert service["environment"]["DATABASE_URL"].endswith("@db:5432/ioc")
        assert service["depends_on"]["db"]["condition"] == "service_healthy"


def test_nginx_serves_the_tile_cache_volume(config):
    nginx_mounts = dict(_mounts(config["services"]["nginx"]))
    app_mounts = dict(_mounts(config["services"]["app"]))
    listener_mounts = dict(_mounts(config["services"]["listener"]))
    assert nginx_mounts.get("tile_cache") == "/var/cache/ioc"
    assert app_mounts.get("tile_cache") == "/var/cache/ioc"
    assert listener_mounts.get("tile_cache") == "/var/cache/ioc"
    assert "tile_cache" in config["volumes"]
    conf_targets = {target for _, target in _mounts(config["services"]["nginx"])}
    assert "/etc/nginx/conf.d/default.conf" in conf_targets


def test_nginx_conf_routes_tiles_to_the_cache_with_fallback():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "root /var/cache/ioc;" in conf
    assert "try_files $uri @app;" in conf
    assert "server app:8000;" in conf
