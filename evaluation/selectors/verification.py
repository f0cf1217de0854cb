"""Step 11 reads: who may see verification, the labelled data a run learns from, runs, their
proposals and the answers people gave on them.

Who may do what (pages and API alike):

=============================  =======  ========  =========  ========
                               manager  reviewer  annotator  outsider
=============================  =======  ========  =========  ========
read runs, reports, compare      yes      yes       403        403
start / cancel a run, findings   yes      403       403        403
send to verification, reorder    yes      403       403        403
post predictions                 yes      403       403        403
=============================  =======  ========  =========  ========
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Count, Max, Q, QuerySet
from django.http import Http404

from annotation.final_label import final_label_rows_sql
from annotation.models import Annotation, Batch, BatchItem, Item, Label, SchemaVersion
from dmops.models import Membership, Project
from dmops.selectors import project_for_member
from evaluation.models import ExternalPrediction, VerificationProposal, VerificationRun

READERS = (Membership.Role.MANAGER, Membership.Role.REVIEWER)


def require_reader(role: str) -> None:
    if role not in READERS:
        raise PermissionDenied("Only managers and reviewers can see model verification.")


def require_manager(role: str, action: str) -> None:
    if role != Membership.Role.MANAGER:
        raise PermissionDenied(f"Only a project manager can {action}.")


def project_for_reader(user, project_id: int) -> tuple[Project, str]:
    """The project and role of a manager or reviewer; 404 / 403 otherwise."""
    project, role = project_for_member(user, project_id)
    require_reader(role)
    return project, role


def current_schema(project: Project) -> SchemaVersion | None:
    return SchemaVersion.objects.filter(project=project, is_final=True).order_by("-number").first()


def label_keys(project: Project) -> set[str]:
    """Label keys of the project's latest final schema (what predictions may name)."""
    schema = current_schema(project)
    if schema is None:
        return set()
    return set(Label.objects.filter(schema_version=schema).values_list("key", flat=True))


@dataclass
class LabelledData:
    """What a run learns from, in item-id order. ``skipped`` counts items left out, by why."""

    task_type: str
    item_ids: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    weak_labels: list[Any] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)


def _decode(value: Any) -> Any:
    # A raw query hands JSON columns back as text on both vendors (Django turns psycopg's
    # jsonb loader off and decodes in JSONField.from_db_value, which a raw query skips).
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _proposed_labels(project: Project) -> dict[int, str]:
    """Each item's most recent proposed label (binary verification asks about it)."""
    rows = (
        BatchItem.objects.filter(batch__project=project)
        .exclude(proposed_label="")
        .exclude(batch__kind=Batch.Kind.TRAINING)
        .order_by("pk")
        .values_list("item_id", "proposed_label")
    )
    return dict(rows)


def labelled_data(project: Project) -> LabelledData:
    """Active items with a final label (the same rule releases use: reviewed, aggregated or a
    single judgement), as training classes:

    * single-label schemas: the label key;
    * binary verification: ``"<proposed label>:<yes|no>"`` (the label asked about, with the
      answer); "unsure" items are left out;
    * multi-label schemas are not verified (one-vs-rest is not built yet): every item is
      counted in ``skipped["multi_label"]``.
    """
    schema = current_schema(project)
    task = schema.task_type if schema is not None else SchemaVersion.TaskType.SINGLE
    data = LabelledData(task_type=task)
    skipped: dict[str, int] = defaultdict(int)
    rows_sql, params = final_label_rows_sql(project_id=project.pk, vendor=connection.vendor)
    item_t = Item._meta.db_table
    sql = (
        f"SELECT d.item_id, d.text, d.label, i.weak_labels FROM ({rows_sql}) d "
        f"JOIN {item_t} i ON i.id = d.item_id ORDER BY d.item_id"
    )
    proposed = _proposed_labels(project) if task == SchemaVersion.TaskType.BINARY else {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for item_id, text, raw_label, raw_weak in cursor.fetchall():
            label = _decode(raw_label)
            if task == SchemaVersion.TaskType.MULTI or isinstance(label, list):
                skipped["multi_label"] += 1
                continue
            if not isinstance(label, str) or not label:
                skipped["not_a_label"] += 1
                continue
            if task == SchemaVersion.TaskType.BINARY:
                if label not in ("yes", "no"):
                    skipped["unsure"] += 1
                    continue
                label = f"{proposed[item_id]}:{label}" if item_id in proposed else label
            weak = _decode(raw_weak)
            data.item_ids.append(int(item_id))
            data.texts.append(text)
            data.labels.append(label)
            data.weak_labels.append(weak if isinstance(weak, list) else [])
    data.skipped = dict(skipped)
    return data


def unlabelled_items(project: Project, limit: int) -> list[tuple[int, str]]:
    """Active items with no final label yet (Item.final_label empty and no judgement)."""
    rows = (
        Item.objects.filter(project=project, is_active=True, final_label__isnull=True)
        .exclude(annotations__isnull=False)
        .order_by("pk")
        .values_list("pk", "text")[:limit]
    )
    return list(rows)


def run_list(project: Project) -> QuerySet[VerificationRun]:
    return (
        VerificationRun.objects.filter(project=project)
        .select_related("created_by", "findings_by")
        .defer("report", "figures")
        .order_by("-created_at", "-pk")
    )


def run_get(project: Project, run_id: int) -> VerificationRun:
    run = (
        VerificationRun.objects.select_related("created_by", "findings_by")
        .filter(project=project, pk=run_id)
        .first()
    )
    if run is None:
        raise Http404("No such verification run.")
    return run


def latest_done_run(project: Project) -> VerificationRun | None:
    return (
        VerificationRun.objects.filter(project=project, status=VerificationRun.Status.DONE)
        .order_by("-finished_at", "-pk")
        .first()
    )


def last_labelling_at(project: Project) -> datetime | None:
    """When the project's last judgement was made (training batches do not count)."""
    return (
        Annotation.objects.filter(batch_item__batch__project=project)
        .exclude(batch_item__batch__kind=Batch.Kind.TRAINING)
        .aggregate(last=Max("created_at"))["last"]
    )


def batch_choices(project: Project) -> QuerySet[Batch]:
    """Batches whose queue order a manager may set from model uncertainty."""
    return Batch.objects.filter(project=project).exclude(kind=Batch.Kind.TRAINING).order_by("-pk")


def proposals_unfolded(project: Project) -> QuerySet[VerificationProposal]:
    """Proposals whose batch item has all its answers but whose verdict is not recorded."""
    return (
        VerificationProposal.objects.filter(
            batch_item__batch__project=project, batch_item__is_complete=True, folded_at=None
        )
        .select_related("batch_item", "run")
        .order_by("pk")
    )


def answers_by_batch_item(batch_item_ids: list[int]) -> dict[int, list[Any]]:
    answers: dict[int, list[Any]] = defaultdict(list)
    rows = Annotation.objects.filter(batch_item_id__in=batch_item_ids).order_by("pk")
    for bi_id, answer in rows.values_list("batch_item_id", "answer"):
        answers[bi_id].append(answer)
    return dict(answers)


def verdict_counts(run: VerificationRun) -> dict[str, int]:
    """How many of the run's suspicions people confirmed (rejected the given label), refuted,
    left undecided, or have not answered yet."""
    counts = VerificationProposal.objects.filter(run=run).aggregate(
        sent=Count("pk"),
        rejected=Count("pk", filter=Q(verdict=VerificationProposal.Verdict.REJECTED)),
        confirmed=Count("pk", filter=Q(verdict=VerificationProposal.Verdict.CONFIRMED)),
        undecided=Count("pk", filter=Q(verdict=VerificationProposal.Verdict.UNDECIDED)),
        relabelled=Count("pk", filter=Q(label_written=True)),
    )
    counts["waiting"] = counts["sent"] - counts["rejected"] - counts["confirmed"]
    counts["waiting"] -= counts["undecided"]
    return counts


def sent_item_ids(run: VerificationRun) -> set[int]:
    return set(
        VerificationProposal.objects.filter(run=run).values_list("batch_item__item_id", flat=True)
    )


def prediction_models(project: Project) -> list[dict[str, Any]]:
    return list(
        ExternalPrediction.objects.filter(project=project)
        .values("model_name")
        .annotate(n=Count("pk"))
        .order_by("model_name")
    )
