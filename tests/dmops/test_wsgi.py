"""The WSGI application the server runs (dmops.wsgi): Django's, with whole bodies handed over
as one bytes object, and every response closed so that Django ends the request."""

from __future__ import annotations

import io
import sys

import pytest
from django.core.signals import request_finished
from django.http import StreamingHttpResponse

from dmops import wsgi

pytestmark = pytest.mark.django_db


def _environ(path: str) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
    }


class Finished:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, **kwargs) -> None:
        self.count += 1


@pytest.fixture
def finished():
    receiver = Finished()
    request_finished.connect(receiver)
    yield receiver
    request_finished.disconnect(receiver)


def test_a_page_comes_back_whole_with_its_headers_and_django_ends_the_request(finished):
    started = []

    def start_response(status, headers, exc_info=None):
        started.append((status, headers))

    body = wsgi.application(_environ("/accounts/login/"), start_response)
    assert isinstance(body, list) and len(body) == 1
    assert b"<form" in body[0]
    status, headers = started[0]
    assert status == "200 OK"
    names = {name.lower() for name, _ in headers}
    assert {"content-type", "x-frame-options", "set-cookie"} <= names  # csrftoken cookie
    assert finished.count == 1


def test_a_streaming_response_is_passed_through_for_the_server_to_close(monkeypatch, finished):
    streamed = StreamingHttpResponse(iter([b"a", b"b"]))
    monkeypatch.setattr(wsgi, "django_application", lambda environ, start: streamed)
    body = wsgi.application(_environ("/"), lambda *args: None)
    assert body is streamed
    assert finished.count == 0  # the server closes it once it has sent every chunk
    assert b"".join(body) == b"ab"
    body.close()
    assert finished.count == 1
