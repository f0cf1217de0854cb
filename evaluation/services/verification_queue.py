"""Step 11 writes that reach people: suspicious labels and predictions sent into verification
batches, people's answers folded back into final labels, and queue order by model uncertainty.

Every write into annotation's tables goes through annotation's services
(:mod:`annotation.services.verification_batches`, :mod:`annotation.services.final_labels`);
this module records *why* an item was sent (:class:`VerificationProposal`).

**Fold-back rule.** For a proposal whose batch item has all its answers, each answer is a vote:
``"yes"`` (or, on a single-label schema, the given label's key) keeps the given label; ``"no"``
(or another label's key, which also names the people's label) rejects it; ``"unsure"`` does
not count. More rejections than confirmations ⇒ *rejected* (the suspicion is confirmed); more
confirmations ⇒ *confirmed* (the label was right); otherwise *undecided*. A rejected item's
final label becomes the label people chose (the most chosen other key) or, when they only
said "no", the model's suggestion if the label set has exactly two classes (rejecting one is
accepting the other). Otherwise — several alternatives and no label named, or an item a
reviewer already decided (never overwritten) — it is queued for review with reason "model".
A confirmed *prediction* (pre-annotation, the item had no label) becomes the item's label.
Written labels get rule "aggregated" and confidence = rejections / decisive votes. On binary
verification data the training class is ``"<label>:<yes|no>"``: people are asked about the
label, and answering the opposite of the stored yes/no rejects it and becomes the new answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from annotation.models import Batch, Item, SchemaVersion
from annotation.services import final_labels, verification_batches
from dmops.errors import DomainError
from dmops.models import Project
from evaluation.models import ExternalPrediction, VerificationProposal, VerificationRun
from evaluation.selectors import verification as selectors
from evaluation.services.verification import embeddings_for, get_encoder

YES, NO = "yes", "no"


def _require_manager(project: Project, user, action: str) -> None:
    if not project.is_manager(user):
        raise PermissionDenied(f"Only a project manager can {action}.")


def _split(class_name: str, task_type: str) -> tuple[str, str]:
    """(label asked about, value stored as final label) for a training class."""
    if task_type == SchemaVersion.TaskType.BINARY and ":" in class_name:
        asked, _, answer = class_name.rpartition(":")
        return asked, answer
    return class_name, class_name


def _send(
    *,
    project: Project,
    by,
    name: str,
    rows: Sequence[dict[str, Any]],
    source: str,
    run: VerificationRun | None = None,
    model_name: str = "",
) -> Batch:
    """Create the batch through annotation's service, then one proposal per batch item."""
    proposals = {r["item_id"]: (r["proposed"], r["score"]) for r in rows}
    batch, batch_items = verification_batches.verification_batch_create(
        project=project, by=by, name=name, proposals=proposals
    )
    by_item = {r["item_id"]: r for r in rows}
    VerificationProposal.objects.bulk_create(
        [
            VerificationProposal(
                batch_item=bi,
                source=source,
                run=run,
                model_name=model_name,
                given_label=by_item[item_id]["given"],
                suggested_label=by_item[item_id].get("suggested", ""),
                score=by_item[item_id]["score"],
            )
            for item_id, bi in batch_items.items()
        ],
        batch_size=2000,
    )
    return batch


@transaction.atomic
def suspicious_send(
    *, run: VerificationRun, by, item_ids: Iterable[int] | None = None, top_k: int | None = None
) -> Batch:
    """A manager sends a run's suspicious items — the chosen ``item_ids``, else the ``top_k``
    most suspicious — into a new verification batch asking "the label is X — is that right?".
    Items this run already sent are left out. Priority = suspicion (1 - self-confidence)."""
    _require_manager(run.project, by, "send items for verification")
    if run.status != VerificationRun.Status.DONE:
        raise DomainError("Only a finished run's suspicious items can be sent.")
    rows = run.report.get("suspicious", [])
    if item_ids is not None:
        wanted = {int(i) for i in item_ids}
        rows = [r for r in rows if r["item_id"] in wanted]
    elif top_k is not None:
        rows = rows[: max(0, int(top_k))]
    sent = selectors.sent_item_ids(run)
    task = run.report.get("task_type", SchemaVersion.TaskType.SINGLE)
    chosen = []
    for r in rows:
        if r["item_id"] in sent:
            continue
        given, suggested = r["given_label_name"], r["suggested_label_name"]
        chosen.append(
            {
                "item_id": r["item_id"],
                "proposed": _split(given, task)[0],
                "given": given,
                "suggested": suggested,
                "score": float(r["score"]),
            }
        )
    if not chosen:
        raise DomainError("Choose at least one suspicious item that was not sent already.")
    name = f"Verification: run #{run.pk} suspicious labels"
    return _send(project=run.project, by=by, name=name, rows=chosen, source="suspicious", run=run)


def _votes(
    answers: Sequence[Any], asked: str, given_value: str, binary: bool
) -> tuple[int, int, Counter]:
    """(confirmations, rejections, labels people chose instead). On binary data the given
    value is itself "yes" or "no": the other answer rejects it and is the people's label."""
    yes = no = 0
    chosen: Counter = Counter()
    for answer in answers:
        if not isinstance(answer, str) or answer in ("unsure", ""):
            continue
        if binary:
            if answer == given_value:
                yes += 1
            elif answer in (YES, NO):
                no += 1
                chosen[answer] += 1
        elif answer in (YES, given_value):
            yes += 1
        elif answer == NO:
            no += 1
        elif answer != asked:
            no += 1
            chosen[answer] += 1
    return yes, no, chosen


@transaction.atomic
def proposals_fold(*, project: Project, by) -> dict[str, int]:
    """Fold people's answers on completed verification items back (the rule is in the module
    docstring). Each proposal is folded once. Returns counts by outcome."""
    _require_manager(project, by, "fold verification answers back")
    proposals = list(selectors.proposals_unfolded(project).select_for_update(of=("self",)))
    answers = selectors.answers_by_batch_item([p.batch_item_id for p in proposals])
    counts = Counter()
    labels: dict[int, tuple[Any, float]] = {}
    to_review: list[int] = []
    now = timezone.now()
    for p in proposals:
        task = (p.run.report.get("task_type") if p.run else "") or SchemaVersion.TaskType.SINGLE
        asked, given_value = _split(p.given_label, task)
        binary = task == SchemaVersion.TaskType.BINARY
        yes, no, chosen = _votes(answers.get(p.batch_item_id, []), asked, given_value, binary)
        item_id = p.batch_item.item_id
        if no > yes:
            p.verdict = VerificationProposal.Verdict.REJECTED
            n_classes = len(p.run.report.get("classes", [])) if p.run else 0
            if chosen:
                p.people_label = chosen.most_common(1)[0][0]
            elif p.suggested_label and n_classes == 2:
                p.people_label = _split(p.suggested_label, task)[1]
            if p.people_label:
                labels[item_id] = (p.people_label, no / (yes + no))
            else:
                to_review.append(item_id)
        elif yes > no:
            p.verdict = VerificationProposal.Verdict.CONFIRMED
            if p.source != VerificationProposal.Source.SUSPICIOUS:
                # Pre-annotation: the item had no label; people confirmed the model's.
                labels[item_id] = (given_value, yes / (yes + no))
        else:
            p.verdict = VerificationProposal.Verdict.UNDECIDED
        p.folded_at = now
        counts[p.verdict] += 1
    if labels:
        final_labels.final_labels_write(project=project, labels=labels)
        kept = set(
            Item.objects.filter(pk__in=list(labels), final_rule=final_labels.REVIEWED).values_list(
                "pk", flat=True
            )
        )
        to_review += sorted(kept)
        for p in proposals:
            p.label_written = p.batch_item.item_id in labels and p.batch_item.item_id not in kept
        counts["relabelled"] = len(labels) - len(kept)
    if to_review:
        counts["queued_for_review"] = final_labels.reviews_enqueue(
            project=project, by=by, entries=[(i, "model") for i in to_review]
        )
    VerificationProposal.objects.bulk_update(
        proposals, ["verdict", "people_label", "label_written", "folded_at"], batch_size=2000
    )
    return dict(counts)


def _model_probs(
    run: VerificationRun, item_ids: Sequence[int], texts: Sequence[str]
) -> tuple[list[str], np.ndarray]:
    """The run's model (the probe fit on all its labelled items) on other items."""
    from evaluation.verification.pipeline import fit_predict_proba

    data = run.report.get("data") or {}
    train_ids, train_labels = data.get("item_ids", []), data.get("labels", [])
    texts_by_id = dict(Item.objects.filter(pk__in=train_ids).values_list("pk", "text"))
    train_ids = [i for i in train_ids if i in texts_by_id]
    keep = set(train_ids)
    train_labels = [
        lab for i, lab in zip(data.get("item_ids", []), train_labels, strict=True) if i in keep
    ]
    encoder = get_encoder()
    X_train, _, _ = embeddings_for(
        item_ids=train_ids, texts=[texts_by_id[i] for i in train_ids], encoder=encoder
    )
    X_target, _, _ = embeddings_for(item_ids=item_ids, texts=texts, encoder=encoder)
    return fit_predict_proba(X_train, train_labels, X_target)


def _latest_run(project: Project) -> VerificationRun:
    run = selectors.latest_done_run(project)
    if run is None:
        raise DomainError("No verification run has finished yet; start one first.")
    return run


@transaction.atomic
def batch_order_by_uncertainty(*, batch: Batch, by, run: VerificationRun | None = None) -> int:
    """A manager orders a batch's queue by model uncertainty: each batch item's priority
    becomes the normalised entropy (0 certain … 1 uniform) of the latest finished run's model
    on it, so the queue (highest priority first) serves the least certain items first."""
    _require_manager(batch.project, by, "reorder a batch")
    run = run or _latest_run(batch.project)
    rows = list(
        Item.objects.filter(batch_items__batch=batch).order_by("pk").values_list("pk", "text")
    )
    if not rows:
        return 0
    from evaluation.verification.pipeline import normalised_entropy

    _, probs = _model_probs(run, [r[0] for r in rows], [r[1] for r in rows])
    scores = normalised_entropy(probs)
    priorities = {item_id: float(s) for (item_id, _), s in zip(rows, scores, strict=True)}
    return verification_batches.batch_priorities_write(batch=batch, by=by, priorities=priorities)


@transaction.atomic
def predictions_store(
    *, project: Project, by, model_name: str, predictions: Sequence[dict[str, Any]]
) -> int:
    """A manager stores an outside model's predictions ``[{"item_id", "label", "score"}]``.
    Every item must be the project's and every label a key of its final schema, else nothing
    is stored. A model's earlier prediction for the same item is replaced."""
    _require_manager(project, by, "post predictions")
    model_name = (model_name or "").strip()
    if not model_name:
        raise DomainError({"model": "Name the model that made the predictions."})
    if not predictions:
        raise DomainError({"predictions": "Send at least one prediction."})
    ids = {int(p["item_id"]) for p in predictions}
    known = set(Item.objects.filter(project=project, pk__in=list(ids)).values_list("pk", flat=True))
    errors = {}
    if ids - known:
        errors["item_id"] = f"Unknown items: {', '.join(map(str, sorted(ids - known)[:20]))}."
    keys = selectors.label_keys(project)
    bad = sorted({p["label"] for p in predictions} - keys)
    if bad:
        errors["label"] = f"Unknown labels: {', '.join(bad[:20])}."
    if errors:
        raise DomainError(errors)
    ExternalPrediction.objects.bulk_create(
        [
            ExternalPrediction(
                project=project,
                item_id=int(p["item_id"]),
                model_name=model_name,
                label=p["label"],
                score=float(p["score"]),
                created_by=by,
            )
            for p in predictions
        ],
        update_conflicts=True,
        unique_fields=["item", "model_name"],
        update_fields=["label", "score", "created_by"],
        batch_size=2000,
    )
    return len(predictions)


@transaction.atomic
def predictions_send(
    *, project: Project, by, model_name: str, min_score: float = 0.0, limit: int = 500
) -> Batch:
    """A manager turns an outside model's predictions (score ≥ ``min_score``, best first, at
    most ``limit``) into a verification batch: "the label is X — is that right?"."""
    _require_manager(project, by, "send predictions for verification")
    rows = ExternalPrediction.objects.filter(
        project=project, model_name=model_name, score__gte=min_score, item__is_active=True
    ).order_by("-score", "pk")[:limit]
    chosen = [
        {"item_id": p.item_id, "proposed": p.label, "given": p.label, "score": p.score}
        for p in rows
    ]
    if not chosen:
        raise DomainError("This model has no predictions to send.")
    return _send(
        project=project,
        by=by,
        name=f"Pre-annotation: {model_name}"[:200],
        rows=chosen,
        source="external",
        model_name=model_name,
    )


@transaction.atomic
def run_predictions_send(*, run: VerificationRun, by, limit: int = 200) -> Batch:
    """A manager turns the run's model predictions on items nobody has labelled yet (at most
    ``limit``, in item order) into a verification batch, most confident first."""
    _require_manager(run.project, by, "send predictions for verification")
    if run.status != VerificationRun.Status.DONE:
        raise DomainError("Only a finished run's model can pre-annotate.")
    rows = selectors.unlabelled_items(run.project, limit)
    if not rows:
        raise DomainError("Every active item already has a label or a judgement.")
    classes, probs = _model_probs(run, [r[0] for r in rows], [r[1] for r in rows])
    task = run.report.get("task_type", SchemaVersion.TaskType.SINGLE)
    chosen = []
    for (item_id, _), p in zip(rows, probs, strict=True):
        k = int(np.argmax(p))
        chosen.append(
            {
                "item_id": item_id,
                "proposed": _split(classes[k], task)[0],
                "given": classes[k],
                "score": float(p[k]),
            }
        )
    return _send(
        project=run.project,
        by=by,
        name=f"Pre-annotation: run #{run.pk}",
        rows=chosen,
        source="run_prediction",
        run=run,
        model_name=run.model_revision,
    )
