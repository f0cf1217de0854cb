from __future__ import annotations

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dmops.settings")
django_application = get_wsgi_application()


def application(environ, start_response):
    """Django's WSGI application, with a body that is already whole handed over as one bytes
    object in a list. Given Django's response object, granian iterates it from Rust and calls
    its ``close()`` at the end (which sends ``request_finished``); given a list, it writes the
    bytes at once. Streaming and file responses are not ``HttpResponse`` and stream as before."""
    response = django_application(environ, start_response)
    if not isinstance(response, HttpResponse):
        return response
    try:
        return [response.content]
    finally:
        response.close()


# Import every view now and move what is loaded out of the collector's reach: a full collection
# walks every live object, and with Django and DRF loaded that stalled a server process (all its
# requests) for 50–70 ms about once per 2 000 annotations (bench/README.md, "Queue").
get_resolver().url_patterns  # noqa: B018
gc.collect()
gc.freeze()
