"""pytest plugin (``-p dmops.pytest_env`` in pyproject) that sets the test environment.

It runs before pytest-django loads the settings, so ``dmops/settings.py`` stays strict: the
suite runs the production settings with a throwaway key instead of a DEBUG escape hatch.
"""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# around it are still synchronous, so Django's async-safety guard does not apply.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
