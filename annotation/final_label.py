"""The one place that decides an item's final label, as a set-based SQL query.

The rule, per item (first match wins; ``label_rule`` records which):

1. **reviewed** — the item's latest ``accept`` or ``correct`` review (by ``decided_at``, then
   id): the label it recorded (annotation/services/final_labels.py stores the accepted label
   on the review), else — an accept recorded without one — the aggregated label, else the
   single judgement. Confidence: 1.0 for a correction; for an accept, the confidence stored
   with the reviewed label, else the aggregate's.
2. **aggregated** — ``Item.final_label`` written by evaluation with ``final_rule="aggregated"``
   (majority vote, Dawid–Skene …) and its ``final_confidence``.
3. **single** — the item has exactly one judgement: that answer. Confidence unknown (null).

Otherwise the item has no final label and is left out. A ``send_back`` decision changes
nothing here: as final_labels.py puts it, the label stays as it is until re-aggregated.
Judgements from *training* batches (qualification) never count, nor yes/no answers on a
model-proposed label in a verification batch.

Both releases (INSERT … SELECT, annotation/services/releases.py) and the live-project export
(a server-side cursor, annotation/selectors/releases.py) run this query, so a release and the
live export always agree. It is written in the SQL that PostgreSQL and SQLite share, with the
JSON aggregation of judgements per vendor; nothing passes through Python per row.
"""

from __future__ import annotations

from collections.abc import Sequence

from annotation.models import Annotation, Batch, BatchItem, Item, Review

COLUMNS = ("item_id", "text", "metadata", "label", "label_rule", "confidence", "judgements")


def _judgements_sql(vendor: str) -> str:
    """Per released item, the JSON array of ``{"annotator": "a<n>", "label": answer}`` in
    answer order; ``x`` holds the item's judgements with their annotator's number ``n``."""
    if vendor == "postgresql":
        return (
            "SELECT x.item_id, jsonb_agg(jsonb_build_object('annotator', 'a' || x.n,"
            " 'label', x.answer) ORDER BY x.id) AS judgements FROM ({x}) x GROUP BY x.item_id"
        )
    # SQLite keeps the input order inside a group; the sub-select orders it by answer id.
    return (
        "SELECT x.item_id, json_group_array(json_object('annotator', 'a' || x.n,"
        " 'label', json(x.answer))) AS judgements FROM ({x} ORDER BY rj.item_id, rj.id) x"
        " GROUP BY x.item_id"
    )


def final_label_rows_sql(
    *,
    project_id: int,
    vendor: str,
    batch_ids: Sequence[int] = (),
    source_ids: Sequence[int] = (),
    with_judgements: bool = False,
) -> tuple[str, list]:
    """SQL and params selecting :data:`COLUMNS` for every active item of the project that has
    a final label. ``batch_ids``/``source_ids`` narrow the items (an item is in if it is in
    any of the batches / sources). With ``with_judgements`` each row carries its judgements,
    annotators named "a1", "a2", … by first appearance among the selected rows (item id,
    then answer id); otherwise ``judgements`` is null."""
    item_t, review_t = Item._meta.db_table, Review._meta.db_table
    ann_t, bi_t, batch_t = (
        Annotation._meta.db_table,
        BatchItem._meta.db_table,
        Batch._meta.db_table,
    )
    pg = vendor == "postgresql"
    params: list = []
    judged = (
        f"SELECT a.id, a.item_id, a.annotator_id, a.answer FROM {ann_t} a "
        f"JOIN {bi_t} bi ON bi.id = a.batch_item_id JOIN {batch_t} b ON b.id = bi.batch_id "
        "WHERE b.project_id = %s AND b.kind <> %s"
        " AND NOT (b.kind = %s AND bi.proposed_label <> '')"
    )
    # Training answers are qualification, and a yes/no on a model-proposed label judges the
    # proposal, not the item (re-annotation items in verification batches do count).
    params += [project_id, Batch.Kind.TRAINING, Batch.Kind.VERIFICATION]
    # The one answer of an item judged once (no second lookup: MIN of one value is it).
    single = "MIN(j.answer::text)::jsonb" if pg else "MIN(j.answer)"
    counted = (
        f"SELECT j.item_id, COUNT(*) AS n, CASE WHEN COUNT(*) = 1 THEN {single} END AS single"
        " FROM judged j GROUP BY j.item_id"
    )
    reviewed = (
        "SELECT item_id, decision, label FROM ("
        " SELECT r.item_id, r.decision, r.label, ROW_NUMBER() OVER ("
        "  PARTITION BY r.item_id ORDER BY r.decided_at DESC, r.id DESC) AS rn"
        f" FROM {review_t} r JOIN {item_t} ri ON ri.id = r.item_id"
        " WHERE ri.project_id = %s AND r.decision IN ('accept', 'correct')) x WHERE rn = 1"
    )
    params.append(project_id)

    where = ["i.project_id = %s", "i.is_active = %s"]
    params += [project_id, True]
    if source_ids:
        where.append(f"i.source_id IN ({', '.join(['%s'] * len(source_ids))})")
        params += list(source_ids)
    if batch_ids:
        where.append(
            f"EXISTS (SELECT 1 FROM {bi_t} fb WHERE fb.item_id = i.id "
            f"AND fb.batch_id IN ({', '.join(['%s'] * len(batch_ids))}))"
        )
        params += list(batch_ids)
    candidates = (
        "SELECT i.id AS item_id, i.text, i.metadata, rv.decision AS r_decision,"
        " rv.label AS r_label,"
        " CASE WHEN i.final_rule = 'aggregated' THEN i.final_label END AS agg_label,"
        " CASE WHEN i.final_rule = 'aggregated' THEN i.final_confidence END AS agg_confidence,"
        " CASE WHEN i.final_rule = 'reviewed' THEN i.final_confidence END AS rev_confidence,"
        " c.single AS single_label"
        f" FROM {item_t} i"
        " LEFT JOIN reviewed rv ON rv.item_id = i.id"
        " LEFT JOIN counted c ON c.item_id = i.id"
        f" WHERE {' AND '.join(where)}"
    )
    accepted = "COALESCE(r_label, agg_label, single_label)"
    decided = (
        "SELECT * FROM (SELECT item_id, text, metadata,"
        " CASE WHEN r_decision = 'correct' THEN r_label"
        f"  WHEN r_decision = 'accept' THEN {accepted}"
        "  WHEN agg_label IS NOT NULL THEN agg_label ELSE single_label END AS label,"
        " CASE WHEN r_decision = 'correct' AND r_label IS NOT NULL THEN 'reviewed'"
        f"  WHEN r_decision = 'accept' AND {accepted} IS NOT NULL THEN 'reviewed'"
        "  WHEN r_decision IN ('correct', 'accept') THEN NULL"
        "  WHEN agg_label IS NOT NULL THEN 'aggregated'"
        "  WHEN single_label IS NOT NULL THEN 'single' END AS label_rule,"
        " CASE WHEN r_decision = 'correct' THEN 1.0"
        "  WHEN r_decision = 'accept' THEN COALESCE(rev_confidence, agg_confidence)"
        "  WHEN agg_label IS NOT NULL THEN agg_confidence END AS confidence"
        " FROM candidates) z WHERE label_rule IS NOT NULL"
    )
    ctes = [
        f"judged AS ({judged})",
        f"counted AS ({counted})",
        f"reviewed AS ({reviewed})",
        f"candidates AS ({candidates})",
        f"decided AS ({decided})",
    ]
    columns = "d.item_id, d.text, d.metadata, d.label, d.label_rule, d.confidence"
    if with_judgements:
        x = (
            "SELECT rj.item_id, rj.id, al.n, rj.answer FROM released rj"
            " JOIN aliases al ON al.annotator_id = rj.annotator_id"
        )
        ctes += [
            "released AS (SELECT j.id, j.item_id, j.annotator_id, j.answer FROM judged j"
            " JOIN decided dd ON dd.item_id = j.item_id)",
            "aliases AS (SELECT annotator_id,"
            " ROW_NUMBER() OVER (ORDER BY MIN(item_id), MIN(id)) AS n"
            " FROM released GROUP BY annotator_id)",
            f"grouped AS ({_judgements_sql(vendor).format(x=x)})",
        ]
        sql = f"SELECT {columns}, g.judgements FROM decided d"
        sql += " LEFT JOIN grouped g ON g.item_id = d.item_id"
    else:
        null = "CAST(NULL AS jsonb)" if pg else "NULL"
        sql = f"SELECT {columns}, {null} AS judgements FROM decided d"
    return f"WITH {', '.join(ctes)} {sql}", params
