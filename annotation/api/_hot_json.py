"""JSON in and out for the labelling hot path's endpoints (next item, submit)."""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpResponse
from rest_framework.negotiation import DefaultContentNegotiation


class JSONAnswers(DefaultContentNegotiation):
    """The hot path answers JSON whatever the Accept header asks for: negotiating parsed the
    header on every call only to pick the one renderer there is (or answer 406)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def json_response(body: dict[str, Any], status: int = 200) -> HttpResponse:
    """``body`` as JSONRenderer writes it (UTF-8, no spaces, U+2028 and U+2029 escaped for
    JavaScript), without a DRF Response: the renderer's round through TemplateResponse cost the
    hot path more CPU than writing it. ``body`` holds only JSON types (the hot path formats its
    datetimes), like the jsonb it comes from. The bytes are JSONRenderer's but for the spelling
    of some floats (orjson writes 1.5e-7 where json writes 1.5e-07), which parse the same."""
    data = (
        orjson.dumps(body).replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
    )
    return HttpResponse(data, status=status, content_type="application/json")
