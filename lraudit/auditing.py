"""The audit: Run -> Timeline -> rules -> findings. Yields results; prints nothing.

The library entry point is :func:`lraudit.api.audit` (``lraudit.audit``), which loads the runs
and calls :func:`iter_audits`; ``lraudit audit`` renders its result with one of the formats in
:mod:`lraudit.report`.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lraudit.errors import LrauditError
from lraudit.rules import REGISTRY, Finding, Rule, Severity

if TYPE_CHECKING:
    from lraudit.options import RunOptions
    from lraudit.reconstruction import Timeline
    from lraudit.run import Run
    from lraudit.sources.base import InputFile

#: ``--fail-on`` values and the lowest severity rank each one fails on (None: never fails)
FAIL_ON = {"error": 2, "warning": 1, "info": 0, "never": None}


@dataclass
class RunAudit:
    """The audit of one run: what was read, what was reconstructed, what was found."""

    path: str
    inputs: list[InputFile] = field(default_factory=list)
    keras: str | None = None
    #: "keras", or "pytorch" / "transformers" / "lightning" for a PyTorch-ecosystem run
    framework: str | None = "keras"
    #: framework versions the files tell (PyTorch-ecosystem runs)
    versions: dict[str, str] = field(default_factory=dict)
    optimizer: dict[str, Any] | None = None
    steps: int = 0
    epochs: int = 0
    steps_per_epoch: int | None = None
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: how the reconstruction was decided (which config, which evidence): context, not problems
    notes: list[str] = field(default_factory=list)
    timeline: Timeline | None = None
    #: why this run could not be audited at all (its files unreadable, a worker lost); None when it was
    error: str | None = None
    #: True when ``error`` is about the arguments (a schedule function that is missing or raises),
    #: not about this run's files: the command then stops with that one line
    usage_error: bool = False

    @property
    def skipped(self) -> list[InputFile]:
        """Inputs that were not read, with their reason."""
        return [i for i in self.inputs if i.status != "read"]


@dataclass
class AuditResult:
    """Every audited run, and the rules that were applied."""

    runs: list[RunAudit]
    rules: list[type[Rule]]

    @property
    def errors(self) -> list[RunAudit]:
        """The runs that could not be audited (:attr:`RunAudit.error`)."""
        return [run for run in self.runs if run.error is not None]

    @property
    def findings(self) -> list[Finding]:
        """All findings of all runs."""
        return [f for run in self.runs for f in run.findings]

    def counts(self) -> dict[str, int]:
        """Findings per severity: ``{"error": n, "warning": n, "info": n}``."""
        counts = {s.value: 0 for s in Severity}
        for finding in self.findings:
            counts[finding.severity.value] += 1
        return counts

    def fails(self, fail_on: str) -> bool:
        """True when a finding is at or above ``fail_on`` (error|warning|info|never)."""
        threshold = FAIL_ON[fail_on]
        return threshold is not None and any(f.severity.rank >= threshold for f in self.findings)


def optimizer_summary(timeline: Timeline) -> dict[str, Any] | None:
    """The optimizer as the JSON report shows it (class, lr or schedule, decay, ...)."""
    from lraudit.semantics.specs import ScheduleSpec

    if timeline.run.torch is not None:
        return _torch_optimizer_summary(timeline)
    spec = timeline.optimizer
    if spec is None or timeline.extra.get("optimizer_origin") == "assumed":
        return None
    lr: Any = spec.learning_rate
    if isinstance(lr, ScheduleSpec):
        lr = {"class_name": lr.class_name, "config": lr.config}
    summary: dict[str, Any] = {"class_name": spec.class_name, "learning_rate": lr, "decay": spec.decay}
    if spec.weight_decay:
        summary["weight_decay"] = spec.weight_decay
    if spec.wrapper:
        summary["wrapper"] = spec.wrapper  # LossScaleOptimizer: the lr is the wrapped optimizer's
    summary["generation"] = spec.generation
    summary["source"] = spec.source
    return summary


def _plain(value: Any) -> Any:
    """A construction argument as JSON data (nested constructions and functions by their text)."""
    from lraudit.torchfacts import Construction

    if isinstance(value, Construction):
        return {"class_name": value.name, "config": {k: _plain(v) for k, v in value.kwargs.items()}}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(getattr(value, "name", value))


def _torch_optimizer_summary(timeline: Timeline) -> dict[str, Any] | None:
    """A PyTorch-ecosystem run's optimizer and schedulers as the JSON report shows them."""
    facts = timeline.run.torch
    if facts is None or (facts.optimizer is None and not facts.training_args):
        return None
    summary: dict[str, Any] = {}
    if facts.optimizer is not None:
        summary["class_name"] = facts.optimizer.name
        summary["learning_rate"] = _plain(facts.optimizer.kwargs.get("lr"))
        summary["source"] = facts.optimizer.location
    elif facts.training_args:
        summary["class_name"] = "AdamW (Trainer default)"
        summary["learning_rate"] = _plain(facts.training_args.get("learning_rate"))
        summary["lr_scheduler_type"] = _plain(facts.training_args.get("lr_scheduler_type", "linear"))
    summary["schedulers"] = [_plain(s) for s in facts.schedulers]
    return summary


def check_run(run: Run, timeline: Timeline, rules: Sequence[type[Rule]]) -> tuple[list[Finding], list[str]]:
    """Apply ``rules`` to one run: its findings (by epoch, then code) and rules that failed."""
    findings: list[Finding] = []
    problems: list[str] = []
    framework = timeline.extra.get("framework") or "keras"
    rules = [rule for rule in rules if framework in rule.frameworks]
    if not timeline.extra.get("lr_known", True):
        # no log tells an lr value: the frame holds NaN placeholders, not applied values
        rules = [rule for rule in rules if not rule.needs_lr_values]
    for rule in rules:
        try:
            findings.extend(rule.check(run, timeline))
        except LrauditError:
            raise
        except Exception as exc:  # one faulty rule must not hide the others' findings
            if os.environ.get("LRAUDIT_DEBUG"):
                raise
            problems.append(f"rule {rule.code} could not run: {type(exc).__name__}: {exc}")
    findings.sort(key=lambda f: (f.epoch if f.epoch is not None else -1, f.code))
    return findings, problems


def audit_run(run: Run, options: RunOptions | None, codes: Sequence[str]) -> RunAudit:
    """Reconstruct one run and apply the rules with these codes."""
    from lraudit.reconstruction import build_timeline

    rules = [REGISTRY.get(code) for code in codes]
    timeline = build_timeline(run, options)
    findings, problems = check_run(run, timeline, rules)
    table = timeline.frame
    return RunAudit(
        path=run.path,
        inputs=list(run.inputs),
        keras=None if run.torch is not None else timeline.keras or run.keras,
        framework=timeline.extra.get("framework") or "keras",
        versions=dict(timeline.extra.get("versions") or {}),
        optimizer=optimizer_summary(timeline),
        steps=len(table),
        epochs=int(table["epoch"].nunique()) if len(table) else run.epochs,
        steps_per_epoch=_steps_per_epoch_used(run, timeline),
        findings=findings,
        warnings=[*run.warnings, *problems],
        notes=[*run.notes, *timeline.notes],
        timeline=timeline,
    )


def _audit_worker(run: Run, options: RunOptions | None, codes: Sequence[str]) -> RunAudit:
    # runs in a child process: the rule modules register on import there too
    return audit_run(run, options, codes)


def iter_audits(
    runs: Sequence[Run], options: RunOptions | None, rules: Sequence[type[Rule]], jobs: int = 1
) -> Iterator[RunAudit]:
    """Audit ``runs`` in order; ``jobs > 1`` uses that many worker processes.

    At most ``2 * jobs`` runs are in flight at a time, so memory stays bounded however many
    runs there are (folders of runs are better audited with :mod:`lraudit.scale`, which also
    reads each run in its worker).
    """
    codes = [rule.code for rule in rules]
    if jobs <= 1 or len(runs) <= 1:
        for run in runs:
            yield audit_run(run, options, codes)
        return
    window = 2 * jobs
    with ProcessPoolExecutor(max_workers=min(jobs, len(runs))) as pool:
        pending: deque[Future[RunAudit]] = deque()
        for run in runs:
            pending.append(pool.submit(_audit_worker, run, options, codes))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _steps_per_epoch_used(run: Run, timeline: Timeline) -> int | None:
    """The steps per epoch the reconstruction laid out (one number when every fit agrees), so the
    report's figures all come from one reconstruction; the logs' own count otherwise."""
    if not timeline.extra.get("steps_per_epoch_known", True):
        return None
    used = {n for n in timeline.extra.get("steps_per_epoch", []) if n}
    if len(used) == 1:
        return used.pop()
    return run.steps_per_epoch
