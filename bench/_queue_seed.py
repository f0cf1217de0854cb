"""The queue benchmark's data: a project of N items in one open batch, seeded set-based inside
PostgreSQL, reused by later runs of the same shape after a reset, and its annotators' tokens;
and the SQL checks of the queue's invariants on that batch after a run.
Django must be set up before these are called (queue_bench.setup_django)."""

from __future__ import annotations

import time

PROJECT_PREFIX = "Queue bench"
# The project's earlier round, labelled and closed: 100 000 items × overlap leases and
# annotations that stay across runs (bench/README.md, "Queue").
HISTORY_BATCH = "earlier round"
HISTORY_ITEMS = 100_000


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


def seed_history(batch, annotator_ids: list[int]) -> float | None:
    """Give the project an earlier round, labelled and closed, unless it has one: a working
    install's lease and annotation tables hold its past work, and the planner's choices for
    the hot path's statements follow those tables' size. Emptied by every reset, they made it
    plan sequential scans of the leases, which the run then outgrew. Returns seconds, or None
    when the project already had the round."""
    from django.db import connection

    from annotation.models import Batch

    if Batch.objects.filter(project=batch.project, name=HISTORY_BATCH).exists():
        return None
    started = time.perf_counter()
    earlier = Batch.objects.create(
        project=batch.project,
        name=HISTORY_BATCH,
        kind=Batch.Kind.MAIN,
        overlap=batch.overlap,
        is_open=False,
        schema_version=batch.schema_version,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO annotation_batchitem (batch_id, item_id, proposed_label, priority, "
            "submitted_count, is_complete, is_dropped) "
            "SELECT %s, id, '', 0, %s, true, false FROM annotation_item "
            "WHERE project_id = %s ORDER BY id LIMIT %s",
            [earlier.pk, earlier.overlap, batch.project_id, HISTORY_ITEMS],
        )
        # overlap judgements per item by distinct annotators, taken round-robin
        judgements = (
            "SELECT bi.id AS batch_item_id, bi.item_id, "
            "(%s::int[])[1 + (bi.id * %s + k) %% %s] AS annotator_id, "
            "now() - interval '30 days' AS at FROM annotation_batchitem bi, "
            "generate_series(0, %s - 1) k WHERE bi.batch_id = %s"
        )
        params = [annotator_ids, earlier.overlap, len(annotator_ids), earlier.overlap, earlier.pk]
        cursor.execute(
            "INSERT INTO annotation_lease (batch_item_id, annotator_id, state, returnable, "
            f"created_at, expires_at) SELECT batch_item_id, annotator_id, 'submitted', false, "
            f"at, at + interval '30 minutes' FROM ({judgements}) j",
            params,
        )
        cursor.execute(
            "INSERT INTO annotation_annotation (batch_item_id, batch_id, item_id, annotator_id, "
            "answer, schema_version_id, seconds_spent, created_at) "
            f"SELECT batch_item_id, %s, item_id, annotator_id, '\"yes\"', %s, 4.0, at "
            f"FROM ({judgements}) j",
            [earlier.pk, earlier.schema_version_id, *params],
        )
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
    from rest_framework.authtoken.models import Token

    from annotation.models import Item, SchemaVersion
    from annotation.services import labelling
    from dmops import services

    batch = None if fresh else reusable_batch(n_items, overlap)
    if batch is not None:
        timings = {"reset": reset_batch(batch)}
    else:
        manager, _ = get_user_model().objects.get_or_create(username="bench-manager")
        stamp = time.strftime("%Y%m%d%H%M%S")
        project = services.project_create(name=f"{PROJECT_PREFIX} {stamp}", created_by=manager)
        SchemaVersion.objects.create(
            project=project,
            number=1,
            task_type="binary",
            question="Needs a citation?",
            is_final=True,
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
    tokens = annotators(batch.project, n_annotators)
    user_ids = list(Token.objects.filter(key__in=tokens).values_list("user_id", flat=True))
    history = seed_history(batch, user_ids)
    if history is not None:
        timings["earlier round"] = history
    analyze("annotation_item", "annotation_batchitem", "annotation_lease", "annotation_annotation")
    return batch.project, batch, tokens, timings


INVARIANTS = {
    "items over overlap": """
        SELECT count(*) FROM annotation_batchitem bi JOIN annotation_batch b ON b.id = bi.batch_id
        WHERE bi.batch_id = %(batch)s AND bi.submitted_count > b.overlap""",
    "counter != annotations": """
        SELECT count(*) FROM annotation_batchitem bi
        WHERE bi.batch_id = %(batch)s AND bi.submitted_count <> (
            SELECT count(*) FROM annotation_annotation a WHERE a.batch_item_id = bi.id)""",
    "annotations on items with a zero counter": """
        SELECT count(*) FROM annotation_annotation a
        JOIN annotation_batchitem bi ON bi.id = a.batch_item_id
        WHERE bi.batch_id = %(batch)s AND bi.submitted_count = 0""",
    "complete flag wrong": """
        SELECT count(*) FROM annotation_batchitem bi JOIN annotation_batch b ON b.id = bi.batch_id
        WHERE bi.batch_id = %(batch)s AND bi.is_complete <> (bi.submitted_count >= b.overlap)""",
    "annotator twice on an item (leases)": """
        SELECT count(*) FROM (SELECT l.batch_item_id, l.annotator_id FROM annotation_lease l
            JOIN annotation_batchitem bi ON bi.id = l.batch_item_id
            WHERE bi.batch_id = %(batch)s GROUP BY 1, 2 HAVING count(*) > 1) d""",
    "annotator twice on an item (annotations)": """
        SELECT count(*) FROM (SELECT a.batch_item_id, a.annotator_id FROM annotation_annotation a
            JOIN annotation_batchitem bi ON bi.id = a.batch_item_id
            WHERE bi.batch_id = %(batch)s GROUP BY 1, 2 HAVING count(*) > 1) d""",
    "annotation's batch is not its item's": """
        SELECT count(*) FROM annotation_annotation a
        JOIN annotation_batchitem bi ON bi.id = a.batch_item_id
        WHERE bi.batch_id = %(batch)s AND a.batch_id <> bi.batch_id""",
    "submitted + live > overlap": """
        SELECT count(*) FROM annotation_batchitem bi JOIN annotation_batch b ON b.id = bi.batch_id
        WHERE bi.batch_id = %(batch)s AND bi.submitted_count + (
            SELECT count(*) FROM annotation_lease l WHERE l.batch_item_id = bi.id
            AND l.state = 'active' AND l.expires_at > now()) > b.overlap""",
}


def check_invariants(batch_id: int) -> dict[str, int]:
    from django.db import connection

    results = {}
    with connection.cursor() as cursor:
        for name, sql in INVARIANTS.items():
            cursor.execute(sql, {"batch": batch_id})
            results[name] = cursor.fetchone()[0]
    return results
