"""The 12 DMOps steps as data, and the registry of gate checks each step must pass.

``dmops`` knows nothing of items or metrics: every app registers the checks it owns from its
``AppConfig.ready()``. The step board asks this registry and never imports the apps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dmops.models import Project


@dataclass(frozen=True)
class StepDefinition:
    key: int
    name: str
    summary: str


STEPS: tuple[StepDefinition, ...] = (
    StepDefinition(
        1,
        "Establish the Project Goal",
        "Business need, intended use, target size, success metric and deadline.",
    ),
    StepDefinition(2, "Secure Raw Data", "Sources with provenance and licences."),
    StepDefinition(3, "Data Pre-processing", "Normalise, dedupe, mask PII, filter."),
    StepDefinition(4, "Design a Data Schema", "Task type, labels, hotkeys and examples."),
    StepDefinition(5, "Prepare a Guideline", "A versioned guideline covering every label."),
    StepDefinition(6, "Recruit Annotators", "A team with at least one manager and one annotator."),
    StepDefinition(7, "Instruct Annotators", "Training items and qualification."),
    StepDefinition(8, "Data Labeling", "Pilot then main batches, with the question log."),
    StepDefinition(9, "Data Internal Factor Verification", "Pilot agreement must pass."),
    StepDefinition(10, "Data Extrinsic Factor Verification", "Review, adjudication, spot checks."),
    StepDefinition(
        11,
        "Data Evaluation through Model Verification",
        "Learnability, learning curve, suspicious labels.",
    ),
    StepDefinition(12, "Data Deliverables", "A versioned release with its datasheet."),
)
STEP_KEYS: tuple[int, ...] = tuple(step.key for step in STEPS)
_BY_KEY = {step.key: step for step in STEPS}


def step_definition(key: int) -> StepDefinition:
    try:
        return _BY_KEY[key]
    except KeyError:
        raise ValueError(f"There is no DMOps step {key}; steps are numbered 1 to 12.") from None


def step_name(key: int) -> str:
    return step_definition(key).name


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class GateCheck:
    """One condition a step must meet before a manager may sign it off."""

    step: int
    key: str
    label: str
    evaluate: Callable[[Project], CheckResult]


@dataclass(frozen=True)
class CheckOutcome:
    check: GateCheck
    result: CheckResult

    @property
    def passed(self) -> bool:
        return self.result.passed


_REGISTRY: dict[int, dict[str, GateCheck]] = {key: {} for key in STEP_KEYS}


def register_check(step: int, key: str, label: str):
    """Decorator: register ``fn(project) -> CheckResult`` as a gate check for ``step``.

    Registering the same key twice replaces the first (``ready()`` may run more than once in tests).
    """
    step_definition(step)

    def decorator(fn: Callable[[Project], CheckResult]) -> Callable[[Project], CheckResult]:
        _REGISTRY[step][key] = GateCheck(step=step, key=key, label=label, evaluate=fn)
        return fn

    return decorator


def checks_for(step: int) -> list[GateCheck]:
    return list(_REGISTRY[step_definition(step).key].values())


def evaluate_checks(project: Project, step: int) -> list[CheckOutcome]:
    return [CheckOutcome(check, check.evaluate(project)) for check in checks_for(step)]
