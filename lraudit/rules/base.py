"""What a rule is: an identity (code, name, severity), one docstring, and a pure check.

A rule is a small class. Subclassing :class:`Rule` validates its identity; decorating it with
``@REGISTRY.register`` adds it to the one :class:`RuleRegistry` (defined here, beside the base
class, so data flows one way: the rule modules import this module, never the reverse). A
misspelt code, a name that is not kebab-case, a missing docstring section or a duplicate fails
at import, not in a report. The docstring is the only
description of a rule: ``lraudit rules``, the README table, SARIF help texts and the ``fix`` of
each finding are all read from it.
"""
from __future__ import annotations

import enum
import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from lraudit.errors import UsageError

if TYPE_CHECKING:
    from lraudit.reconstruction import Timeline
    from lraudit.run import Run

CODE_PATTERN = re.compile(r"^LRA\d{3}$")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")

#: every framework a run can come from (:attr:`Rule.frameworks`)
ALL_FRAMEWORKS = frozenset({"keras", "pytorch", "transformers", "lightning"})
#: the PyTorch ecosystem
TORCH_FRAMEWORKS = frozenset({"pytorch", "transformers", "lightning"})

#: the fixed sections of every rule docstring, in this order
DOC_SECTIONS = ("What it detects", "Why it matters", "Example", "Fix", "References")


class RuleDefinitionError(TypeError):
    """A rule class whose identity or documentation is invalid (raised at import)."""


class Severity(str, enum.Enum):
    """How serious a finding is; ``--fail-on`` compares with :attr:`rank`."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """2 for error, 1 for warning, 0 for info (higher is more serious)."""
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@dataclass(frozen=True)
class Finding:
    """One thing a rule found in one run, with the numbers that prove it."""

    code: str
    name: str
    severity: Severity
    message: str
    fix: str
    run: str
    epoch: int | None = None
    step: int | None = None
    logged: float | None = None
    effective: float | None = None
    #: where the evidence is: ``file:line`` or ``file:tag`` (None when only the reconstruction shows it)
    source: str | None = None

    def to_dict(self) -> dict:
        """Plain JSON-ready form."""
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "message": self.message,
            "fix": self.fix,
            "epoch": self.epoch,
            "step": self.step,
            "logged": self.logged,
            "effective": self.effective,
            "source": self.source,
            "run": self.run,
        }

    @property
    def location(self) -> tuple[str | None, int | None]:
        """``(file, line)`` of :attr:`source`; line is None for event-file tags or no line."""
        return split_location(self.source)


def split_location(source: str | None) -> tuple[str | None, int | None]:
    """Split ``file:line`` into its parts (``file:tag`` and bare paths give line None)."""
    if not source:
        return None, None
    head, sep, tail = source.rpartition(":")
    if sep and tail.startswith("line ") and tail[5:].isdigit() and head:
        return head, int(tail[5:])  # a notebook cell: "nb.ipynb:cell N:line M"
    if sep and tail.isdigit() and head:
        return head, int(tail)
    if sep and head and not re.match(r"^[A-Za-z]$", head):
        # file:tag (event files): keep the file, the tag is not a line
        return head, None
    return source, None


@dataclass(frozen=True)
class RuleDoc:
    """The parsed docstring of a rule."""

    summary: str
    sections: dict[str, str] = field(default_factory=dict)

    def section(self, title: str) -> str:
        """The text of one of :data:`DOC_SECTIONS`."""
        return self.sections[title]


def parse_doc(doc: str | None) -> RuleDoc:
    """Parse a rule docstring: a summary line, then ``Title:`` lines opening each section."""
    text = inspect.cleandoc(doc or "")
    lines = text.splitlines()
    summary = lines[0].strip() if lines else ""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.endswith(":") and stripped[:-1] in DOC_SECTIONS and not line.startswith(" "):
            current = stripped[:-1]
            sections[current] = []
        elif current is not None:
            sections[current].append(line[4:] if line.startswith("    ") else line)
    return RuleDoc(summary, {k: "\n".join(v).strip() for k, v in sections.items()})


class Rule:
    """Base class of every rule: set ``code``, ``name``, ``severity`` and implement :meth:`check`.

    Register a subclass with ``@REGISTRY.register``. ``check`` is pure: it reads the
    run and its timeline and yields findings (build them with :meth:`finding`).
    """

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    doc: ClassVar[RuleDoc]
    #: False for rules that judge only callbacks and metrics, so they still run when no log
    #: tells an lr value (an unknown optimizer and no lr column)
    needs_lr_values: ClassVar[bool] = True
    #: the frameworks whose runs the rule judges (``Timeline.extra["framework"]``; Keras runs
    #: have none): most rules describe Keras semantics; framework-neutral ones list them all
    frameworks: ClassVar[frozenset[str]] = frozenset({"keras"})

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        validate_rule_class(cls)
        cls.doc = parse_doc(cls.__doc__)

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterable[Finding]:
        """Yield the findings of this rule for one run."""
        raise NotImplementedError

    @classmethod
    def finding(cls, run: Run, message: str, **facts: object) -> Finding:
        """A :class:`Finding` of this rule; ``fix`` defaults to the docstring's *Fix* section.

        ``severity`` defaults to the rule's; a rule whose docstring states a size threshold may
        lower it for a finding whose effect is below that threshold.
        """
        fix = facts.pop("fix", None) or cls.doc.section("Fix")
        severity = facts.pop("severity", None) or cls.severity
        return Finding(
            code=cls.code,
            name=cls.name,
            severity=Severity(severity),
            message=message,
            fix=str(fix),
            run=run.path,
            **facts,  # type: ignore[arg-type]
        )


def validate_rule_class(cls: type) -> None:
    """Raise :class:`RuleDefinitionError` unless ``cls`` has a valid identity and docstring."""
    code = getattr(cls, "code", None)
    name = getattr(cls, "name", None)
    severity = getattr(cls, "severity", None)
    where = cls.__qualname__
    if not isinstance(code, str) or not CODE_PATTERN.match(code):
        raise RuleDefinitionError(f"{where}: code {code!r} does not match LRA\\d{{3}}")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise RuleDefinitionError(f"{where}: name {name!r} is not kebab-case")
    if not isinstance(severity, Severity):
        raise RuleDefinitionError(f"{where}: severity {severity!r} is not a Severity")
    if "check" not in cls.__dict__:
        raise RuleDefinitionError(f"{where}: no check() defined")
    doc = parse_doc(cls.__doc__)
    if not doc.summary:
        raise RuleDefinitionError(f"{where}: docstring has no summary line")
    missing = [s for s in DOC_SECTIONS if not doc.sections.get(s)]
    if missing:
        raise RuleDefinitionError(f"{where}: docstring lacks section(s) {', '.join(missing)}")


class RuleRegistry:
    """Rules by code; :meth:`register` rejects a second rule with the same code or name."""

    def __init__(self) -> None:
        self._by_code: dict[str, type[Rule]] = {}

    def register(self, rule: type[Rule]) -> type[Rule]:
        """Add a rule class; used as the decorator ``@REGISTRY.register`` on every rule.

        Registration is explicit (as sqlfluff's ``RuleSet.register``): defining a subclass only
        validates it, so a helper or test class is not a rule until it is registered.
        """
        validate_rule_class(rule)
        if rule.code in self._by_code:
            other = self._by_code[rule.code]
            raise RuleDefinitionError(
                f"duplicate rule code {rule.code}: {other.__qualname__}, {rule.__qualname__}"
            )
        for other in self._by_code.values():
            if other.name == rule.name:
                raise RuleDefinitionError(f"duplicate rule name {rule.name}: {other.code}, {rule.code}")
        self._by_code[rule.code] = rule
        return rule

    def unregister(self, code: str) -> None:
        """Remove a rule (for tests that define throw-away rules)."""
        self._by_code.pop(code, None)

    def all(self) -> list[type[Rule]]:
        """Every registered rule, ordered by code."""
        return [self._by_code[c] for c in sorted(self._by_code)]

    def get(self, code: str) -> type[Rule]:
        """The rule with this code or name; unknown -> :class:`UsageError`."""
        key = code.strip()
        rule = self._by_code.get(key.upper())
        if rule is None:
            rule = next((r for r in self._by_code.values() if r.name == key.lower()), None)
        if rule is None:
            raise UsageError(f"unknown rule {code!r} (see 'lraudit rules')")
        return rule

    def select(self, select: Iterable[str] = (), ignore: Iterable[str] = ()) -> list[type[Rule]]:
        """Rules chosen by ``--select``/``--ignore`` codes, names or prefixes (``LRA01``)."""
        chosen = self._expand(select) if list(select) else set(self._by_code)
        chosen -= self._expand(ignore)
        return [self._by_code[c] for c in sorted(chosen)]

    def _expand(self, selectors: Iterable[str]) -> set[str]:
        codes: set[str] = set()
        for raw in selectors:
            key = raw.strip()
            if not key:
                continue
            if key.upper() == "ALL":
                codes.update(self._by_code)
                continue
            if re.fullmatch(r"LRA\d{0,2}", key.upper()) and key.upper() not in self._by_code:
                matched = {c for c in self._by_code if c.startswith(key.upper())}
                if matched:
                    codes.update(matched)
                    continue
            codes.add(self.get(key).code)
        return codes


#: the one registry every rule module registers into
REGISTRY = RuleRegistry()
