"""Everything an item goes through: where it came from, how it was cleaned, what is labelled,
how it was reviewed and how it was released. One module per stage; all models are re-exported
here so ``from annotation.models import Item`` keeps working."""

from annotation.models.labelling import Annotation, AnnotatorState, Batch, BatchItem, Lease
from annotation.models.questions import Question
from annotation.models.releases import (
    RELEASE_SPLITS,
    Release,
    ReleaseFile,
    ReleaseRow,
    Webhook,
    WebhookDelivery,
)
from annotation.models.review import Review
from annotation.models.schema import GuidelineVersion, Label, SchemaVersion
from annotation.models.sources import FINAL_RULES, ImportJob, Item, PreprocessingRun, Source
from annotation.models.team import (
    Invitation,
    QualificationRule,
    TrainingAnswer,
    TrainingAttempt,
    TrainingItem,
)

__all__ = [
    "FINAL_RULES",
    "RELEASE_SPLITS",
    "Annotation",
    "AnnotatorState",
    "Batch",
    "BatchItem",
    "GuidelineVersion",
    "ImportJob",
    "Invitation",
    "Item",
    "Label",
    "Lease",
    "PreprocessingRun",
    "QualificationRule",
    "Question",
    "Release",
    "ReleaseFile",
    "ReleaseRow",
    "Review",
    "SchemaVersion",
    "Source",
    "TrainingAnswer",
    "TrainingAttempt",
    "TrainingItem",
    "Webhook",
    "WebhookDelivery",
]
