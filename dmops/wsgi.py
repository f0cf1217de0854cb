from __future__ import annotations

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dmops.settings")
application = get_wsgi_application()

# Import every view now and move what is loaded out of the collector's reach: a full collection
# walks every live object, and with Django and DRF loaded that stalled a server process (all its
# requests) for 50–70 ms about once per 2 000 annotations (bench/README.md, "Queue").
get_resolver().url_patterns  # noqa: B018
gc.collect()
gc.freeze()
