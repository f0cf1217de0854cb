"""Web processes must not load the scientific stack: it costs seconds per worker boot and
~100 MB of memory per process, and only evaluation jobs use it (they import it lazily). Nor
pyarrow (~30 MB), which only release builds use to write Parquet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = (
    "sklearn",
    "scipy",
    "statsmodels",
    "torch",
    "transformers",
    "cleanlab",
    "matplotlib",
    "pyarrow",
)

# A fresh interpreter: the test process itself has long imported everything.
PROBE = """
import json, sys
import django
django.setup()
from django.conf import settings
from django.urls import get_resolver
import dmops.wsgi

get_resolver(settings.ROOT_URLCONF).url_patterns  # imports every view module
print(json.dumps(sorted(name for name in %r if name in sys.modules)))
"""


def run_probe(code: str):
    """Run ``code`` in a fresh interpreter and return the JSON its last line prints."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dmops.settings", "DEBUG": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_setup_and_urlconf_do_not_import_the_scientific_stack():
    loaded = run_probe(PROBE % (HEAVY,))
    assert loaded == [], f"django.setup() + URLconf imported {loaded}; import them lazily"


FREEZE_PROBE = """
import gc, json, sys
import dmops.wsgi
print(json.dumps([gc.get_freeze_count(), "annotation.api.labelling" in sys.modules]))
"""


def test_the_wsgi_app_loads_every_view_then_freezes_it_out_of_the_collector():
    """A full collection walks every tracked object; with the framework frozen it walks only
    what requests create, so it no longer stalls a server process for tens of milliseconds."""
    frozen, views_loaded = run_probe(FREEZE_PROBE)
    assert views_loaded
    assert frozen > 50_000  # Django, DRF and our apps: ~125 000 objects
