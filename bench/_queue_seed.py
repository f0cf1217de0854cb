"""The queue benchmark's data: a project of N items in one open batch, seeded set-based inside
PostgreSQL, reused by later runs of the same shape after a reset, and its annotators' tokens.
Django must be set up before these are called (queue_bench.setup_django)."""

from __future__ import annotations

import time

PROJECT_PREFIX = "Queue bench"


def seed_items(project, n: int) -> float:
    """Insert ``n`` items with one INSERT … SELECT generate_series; returns seconds. The rows
    are made by PostgreSQL itself, so nothing crosses the wire; the time is index upkeep."""
    from django.db import connection

    from annotation.models import ImportJob, Item, Source

    source = Source.objects.create(project=project, name="bench", format="text", licence="cc0-1.0")
    job = ImportJob.objects.create(project=project, source=source, file_name="bench.txt")
    # column -> (SQL expression over g, its parameters)
    expressions = {
        "project_id": ("%s", [project.pk]),
        "source_id": ("%s", [source.pk]),
        "import_job_id": ("%s", [job.pk]),
        "position": ("g", []),
        "text": (
            "'Benchmark sentence ' || g || ' about a bridge built in ' || (1800 + mod(g, 200))",
            [],
        ),
        "raw_text": ("'Benchmark sentence ' || g", []),
        "text_hash": ("md5(%s || ':' || g)", [str(project.pk)]),
        "created_at": ("now()", []),
    }
    columns, selects, params = [], [], []
    for field in Item._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.column in expressions:
            sql, values = expressions[field.column]
        elif field.null:
            sql, values = "NULL", []
        else:  # columns added later get their Python default
            sql, values = "%s", [field.get_db_prep_save(field.get_default(), connection)]
        selects.append(sql)
        params.extend(values)
    sql = (
        f"INSERT INTO {Item._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(selects)} FROM generate_series(1, %s) g"
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, n])
    return time.perf_counter() - started


def analyze(*tables: str, vacuum: bool = False) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"{'VACUUM (ANALYZE)' if vacuum else 'ANALYZE'} {table}")


def reusable_batch(n_items: int, overlap: int):
    """The main batch of an earlier bench project of the same shape, or None."""
    from django.db.models import Count

    from annotation.models import Batch

    return (
        Batch.objects.filter(
            project__name__startswith=PROJECT_PREFIX, name="main", overlap=overlap, is_open=True
        )
        .annotate(n=Count("batch_items"))
        .filter(n=n_items)
        .select_related("project")
        .order_by("-pk")
        .first()
    )


def reset_batch(batch) -> float:
    """Forget every lease and annotation of the batch, so the run starts as on fresh data."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in ("annotation_annotation", "annotation_lease"):
            cursor.execute(
                f"DELETE FROM {table} t USING annotation_batchitem bi "
                "WHERE bi.id = t.batch_item_id AND bi.batch_id = %s",
                [batch.pk],
            )
        cursor.execute(
            "UPDATE annotation_batchitem SET submitted_count = 0, is_complete = false, "
            "is_dropped = false WHERE batch_id = %s "
            "AND (submitted_count <> 0 OR is_complete OR is_dropped)",
            [batch.pk],
        )
    # Dead rows left by the previous run would otherwise sit at the head of the queue index.
    analyze("annotation_batchitem", "annotation_lease", "annotation_annotation", vacuum=True)
    return time.perf_counter() - started


def annotators(project, n: int) -> list[str]:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from dmops.models import Membership

    User = get_user_model()
    tokens = []
    for i in range(n):
        user, _ = User.objects.get_or_create(username=f"bench-annotator-{i}")
        Membership.objects.get_or_create(
            project=project, user=user, defaults={"role": Membership.Role.ANNOTATOR}
        )
        tokens.append(Token.objects.get_or_create(user=user)[0].key)
    return tokens


def seed(n_items: int, n_annotators: int, overlap: int, fresh: bool):
    from django.contrib.auth import get_user_model

    from annotation.models import Item, SchemaVersion
    from annotation.services import labelling
    from dmops import services

    batch = None if fresh else reusable_batch(n_items, overlap)
    if batch is not None:
        timings = {"reset": reset_batch(batch)}
        return batch.project, batch, annotators(batch.project, n_annotators), timings
    manager, _ = get_user_model().objects.get_or_create(username="bench-manager")
    stamp = time.strftime("%Y%m%d%H%M%S")
    project = services.project_create(name=f"{PROJECT_PREFIX} {stamp}", created_by=manager)
    SchemaVersion.objects.create(
        project=project, number=1, task_type="binary", question="Needs a citation?", is_final=True
    )
    timings = {"seed items": seed_items(project, n_items)}
    # Fresh rows have no statistics yet; without them the planner picks a nested loop.
    analyze("annotation_item")
    started = time.perf_counter()
    batch = labelling.batch_create(
        project=project,
        by=manager,
        name="main",
        items=Item.objects.filter(project=project),
        overlap=overlap,
        is_open=True,
    )
    timings["batch items"] = time.perf_counter() - started
    analyze("annotation_item", "annotation_batchitem", "annotation_lease")
    return project, batch, annotators(project, n_annotators), timings
