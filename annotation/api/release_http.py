"""HTTP for export downloads: built files with ETag/304 and Range/206, or rows streamed.

A built file is served from MEDIA_ROOT in 64 KB chunks (memory stays flat); its strong ETag is
the SHA-256 recorded at build time, so ``If-None-Match`` and ``If-Range`` need no disk read.
Only single byte ranges are served as 206; a multi-range request gets the whole file (200),
which RFC 9110 allows. Streamed rows (no built file for the request) get a weak ETag: the
release never changes, so (release, format, split, fields) identifies the bytes. A release
that is building or failed has nothing to download yet: 409.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.text import slugify
from rest_framework.exceptions import APIException, ValidationError

from annotation.exports import get_exporter, resolve_fields
from annotation.models import RELEASE_SPLITS, Release
from annotation.selectors import releases as selectors
from annotation.services.releases import release_fields
from dmops.models import Project

FILE_CHUNK = 64 * 1024


class ReleaseNotReady(APIException):
    status_code = 409
    default_code = "release_not_ready"


def require_published(release: Release) -> None:
    """409 for a release still building (its rows may not exist yet) or failed (none do)."""
    if release.status == Release.Status.BUILDING:
        raise ReleaseNotReady(f"Release v{release.number} is still being built; try again soon.")
    if release.status != Release.Status.PUBLISHED:
        raise ReleaseNotReady(f"Release v{release.number} failed to build: {release.error}")


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _query(request: HttpRequest) -> tuple:
    fmt = request.GET.get("format", "jsonl")
    try:
        exporter = get_exporter(fmt)
    except ValueError as exc:
        raise ValidationError({"format": str(exc)}) from None
    raw = request.GET.get("fields")
    fields = None
    if raw:
        try:
            fields = resolve_fields([f.strip() for f in raw.split(",") if f.strip()])
        except ValueError as exc:
            raise ValidationError({"fields": str(exc)}) from None
    return exporter, fields


def _etag_matches(header: str, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def _disposition(filename: str) -> str:
    return f'attachment; filename="{filename}"'


def _file_chunks(path: Path, start: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        fh.seek(start)
        while length > 0:
            chunk = fh.read(min(FILE_CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


def _parse_range(header: str, size: int) -> tuple[int, int] | None | str:
    """(start, end inclusive) for one satisfiable range; None to serve everything;
    "unsatisfiable" for a range past the end."""
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None  # absent, malformed or multi-range: the whole file
    first, last = match.groups()
    if first == "":
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return start, end


def serve_file(
    request: HttpRequest, path: Path, *, sha256: str, content_type: str, filename: str
) -> HttpResponse:
    etag = f'"{sha256}"'
    headers = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": "private, max-age=0"}
    if _etag_matches(request.headers.get("If-None-Match", ""), etag):
        return HttpResponse(status=304, headers=headers)
    size = path.stat().st_size
    wanted = _parse_range(request.headers.get("Range", ""), size)
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        wanted = None  # the client's copy is stale: send the whole file
    if wanted == "unsatisfiable":
        headers["Content-Range"] = f"bytes */{size}"
        return HttpResponse(status=416, headers=headers)
    start, end, status = 0, size - 1, 200
    if wanted is not None:
        start, end = wanted
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    response = StreamingHttpResponse(
        _file_chunks(path, start, end - start + 1),
        status=status,
        content_type=content_type,
        headers=headers,
    )
    response["Content-Length"] = str(end - start + 1)
    response["Content-Disposition"] = _disposition(filename)
    return response


def _iter_bytes(exporter, rows, selected) -> Iterator[bytes]:
    try:  # exporters check their fields before pulling the first row
        return exporter.iter_bytes(rows, selected)
    except ValueError as exc:
        raise ValidationError({"fields": str(exc)}) from None


def export_response(request: HttpRequest, release: Release) -> HttpResponse:
    """The release's rows (``split``: one split, else all) in ``format``; see module doc."""
    require_published(release)
    exporter, fields = _query(request)
    split = request.GET.get("split") or None
    if split is not None and split not in RELEASE_SPLITS:
        raise ValidationError({"split": f"split must be one of {list(RELEASE_SPLITS)}."})
    default = release_fields(release)
    if fields and "judgements" in fields and not release.include_judgements:
        raise ValidationError({"fields": "This release was made without the judgements."})
    selected = fields or default
    stem = f"{slugify(release.project.name) or 'project'}-v{release.number}-{split or 'all'}"
    filename = exporter.filename(stem)
    built = selectors.release_file(release, exporter.name, split) if selected == default else None
    if built is not None:
        path = Path(settings.MEDIA_ROOT) / built.path
        if path.is_file():
            return serve_file(
                request,
                path,
                sha256=built.sha256,
                content_type=exporter.content_type,
                filename=filename,
            )
    key = f"{exporter.name}|{split}|{','.join(selected)}".encode()
    etag = f'W/"release-{release.pk}-{hashlib.sha256(key).hexdigest()[:16]}"'
    if _etag_matches(request.headers.get("If-None-Match", ""), etag):
        return HttpResponse(status=304, headers={"ETag": etag})
    chunks = _iter_bytes(
        exporter,
        selectors.release_row_dicts(release, split, fmt=exporter.name, fields=selected),
        selected,
    )
    response = StreamingHttpResponse(chunks, content_type=exporter.content_type)
    response["ETag"] = etag
    response["Accept-Ranges"] = "none"
    response["Content-Disposition"] = _disposition(filename)
    return response


def live_export_response(request: HttpRequest, project: Project) -> HttpResponse:
    """Current final labels of every active item, streamed; never cached (they change)."""
    exporter, fields = _query(request)
    selected = fields or tuple(f for f in resolve_fields(None) if f != "judgements")
    chunks = _iter_bytes(exporter, selectors.live_row_dicts(project, fmt=exporter.name), selected)
    response = StreamingHttpResponse(chunks, content_type=exporter.content_type)
    stem = f"{slugify(project.name) or 'project'}-live"
    response["Content-Disposition"] = _disposition(exporter.filename(stem))
    response["Cache-Control"] = "no-store"
    return response
