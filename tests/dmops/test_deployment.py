"""Docker cannot run on our machines, so the production shape is checked by reading it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_services_and_healthchecks(compose):
    assert set(compose["services"]) == {"db", "redis", "web", "worker", "beat"}
    for name in ("db", "redis", "web", "worker"):
        assert "healthcheck" in compose["services"][name], name
    assert "pgdata" in compose["volumes"]


def test_app_services_point_at_compose_db_and_redis(compose):
    for name in ("web", "worker"):
        env = compose["services"][name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@db:5432/" in env["DATABASE_URL"]
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379")
        assert "SECRET_KEY" in env and "DEBUG" not in env
        assert compose["services"][name]["depends_on"]["db"]["condition"] == "service_healthy"
    db_env = compose["services"]["db"]["environment"]
    url = compose["services"]["web"]["environment"]["DATABASE_URL"]
    assert f"{db_env['POSTGRES_USER']}:{db_env['POSTGRES_PASSWORD']}@" in url
    assert url.endswith("/" + db_env["POSTGRES_DB"])


def test_web_migrates_then_serves_wsgi_and_worker_runs_our_celery_app(compose):
    web = " ".join(compose["services"]["web"]["command"])
    assert "manage.py migrate" in web and "--interface wsgi" in web
    assert web.rstrip().endswith("dmops.wsgi:application")
    assert compose["services"]["worker"]["command"][:4] == ["celery", "-A", "dmops", "worker"]
    assert compose["services"]["beat"]["command"][:4] == ["celery", "-A", "dmops", "beat"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "torch==2.13.0" in dockerfile and "collectstatic" in dockerfile


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client on this machine")
def test_docker_compose_config_accepts_the_file():
    env = {**os.environ, "SECRET_KEY": "x" * 40}
    result = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if "is not a docker command" in result.stderr or "unknown" in result.stderr.lower():
        pytest.skip("this docker client has no compose plugin")
    assert result.returncode == 0, result.stderr


def _settings_run(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**clean, "DJANGO_SETTINGS_MODULE": "dmops.settings", **env},
    )


def test_production_settings_refuse_to_start_without_secret_key():
    result = _settings_run({})
    assert result.returncode != 0 and "SECRET_KEY is not set" in result.stderr


def test_production_settings_refuse_a_weak_secret_key():
    result = _settings_run({"SECRET_KEY": "django-insecure-abc"})
    assert result.returncode != 0 and "too weak" in result.stderr


def test_debug_runs_without_secret_key_and_bad_booleans_are_refused():
    assert _settings_run({"DEBUG": "1"}).stdout.strip() == "True"
    bad = _settings_run({"DEBUG": "maybe"})
    assert bad.returncode != 0 and "DEBUG='maybe' is not a boolean" in bad.stderr


def test_production_defaults_are_secure():
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE
    assert settings.X_FRAME_OPTIONS == "DENY"
