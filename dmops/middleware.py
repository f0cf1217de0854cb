"""Middleware of dmops's own."""

from __future__ import annotations

from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.utils.functional import SimpleLazyObject, empty


class LazyMessageMiddleware(MessageMiddleware):
    """Django's MessageMiddleware, but the message storage is made when a request first uses
    it. Django's builds a cookie and a session storage for every request, which the API's calls
    (an annotator's client makes two per judgement) never use: about 2 % of a server process's
    time on the labelling hot path (bench/README.md, "Queue", session 9). A storage nobody used
    has nothing to write to the response, so skipping it changes no answer."""

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)
