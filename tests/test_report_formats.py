"""The report formats: every Format member renders; SARIF is valid 2.1.0; JUnit, GitHub, Markdown, text.

tests/data/sarif-schema-2.1.0.json is the official OASIS schema (errata01), copied verbatim from
github.com/oasis-tcs/sarif-spec, file sarif-2.1/schema/sarif-schema-2.1.0.json at commit
e0583813964ec43cea53b6b531b402866095ed1f.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from junitparser import Failure, JUnitXml

from lraudit.auditing import AuditResult, RunAudit
from lraudit.errors import UsageError
from lraudit.report import github, text
from lraudit.report.formats import Format, render
from lraudit.rules import REGISTRY
from lraudit.sources.base import InputFile

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
ANSI = re.compile(r"\x1b\[")


def _result() -> AuditResult:
    hidden, monitor, shifted = (REGISTRY.get(c) for c in ("LRA001", "LRA006", "LRA021"))
    run = RunAudit(
        path="runs/exp 1",
        inputs=[InputFile("runs/exp 1/console.log", "console", "read"),
                InputFile("runs/exp 1/notes.txt", None, "skipped", "not a training log")],
        keras="2", steps=40, epochs=2, steps_per_epoch=20,
        warnings=["history.json: line 3 unreadable"],
    )
    run.findings = [
        hidden.finding(run, "the logged 0.00075 is the base variable; 100% sure, a:b,c\nsecond line",
                       epoch=1, step=39, logged=0.00075, effective=0.0004, source="runs/exp 1/history.csv:3"),
        monitor.finding(run, "ReduceLROnPlateau monitors 'val_accuracy' | never logged", epoch=0,
                        source="runs/exp 1/console.log:5"),
        shifted.finding(run, "TensorBoard value is the next step's", epoch=0, step=20, logged=float("nan"),
                        source="runs/exp 1/tb/events.out:train/epoch_learning_rate"),
    ]
    clean = RunAudit(path="runs/clean", keras="3", steps=10, epochs=1)
    return AuditResult(runs=[run, clean], rules=REGISTRY.all())


@pytest.mark.parametrize("fmt", list(Format), ids=lambda f: f.value)
def test_every_format_renders_findings_and_notes(fmt):
    out = render(_result(), fmt)
    assert "LRA001" in out and "LRA006" in out
    assert "not a training log" in out  # skipped inputs appear in every report
    assert "line 3 unreadable" in out  # and so do run warnings


def test_format_parse_is_exhaustive_and_strict():
    assert {Format.parse(f.value) for f in Format} == set(Format)
    assert all(callable(f.renderer()) for f in Format)
    with pytest.raises(UsageError, match="unknown format 'xml'"):
        Format.parse("xml")


def test_sarif_is_valid_2_1_0_with_rule_help_and_locations():
    log = json.loads(render(_result(), Format.SARIF))
    jsonschema.validate(log, SCHEMA)
    assert log["version"] == "2.1.0" and len(log["runs"]) == 2
    driver = log["runs"][0]["tool"]["driver"]
    rules = {r["id"]: r for r in driver["rules"]}
    assert set(rules) == {r.code for r in REGISTRY.all()}
    assert rules["LRA001"]["help"]["text"].startswith("What it detects:")
    detects = REGISTRY.get("LRA001").doc.section("What it detects")
    # rst literals (``x``) read as `x` in every text a person reads
    assert rules["LRA001"]["fullDescription"]["text"] == detects.replace("``", "`")
    results = log["runs"][0]["results"]
    assert [r["level"] for r in results] == ["warning", "error", "note"]
    location = results[0]["locations"][0]["physicalLocation"]
    assert location == {"artifactLocation": {"uri": "runs/exp%201/history.csv"}, "region": {"startLine": 3}}
    assert "region" not in results[2]["locations"][0]["physicalLocation"]  # file:tag has no line
    assert results[2]["properties"]["logged"] == "NaN"
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any("not a training log" in n["message"]["text"] for n in notes)


def test_junit_has_one_case_per_rule_per_run_and_failures_for_findings(tmp_path):
    path = tmp_path / "report.xml"
    path.write_text(render(_result(), Format.JUNIT))
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert [s.name for s in suites] == ["runs/exp 1", "runs/clean"]
    assert all(len(list(s)) == len(REGISTRY.all()) for s in suites)
    failed = {case.name.split()[0] for case in suites[0] if any(isinstance(r, Failure) for r in case.result)}
    assert failed == {"LRA001", "LRA006", "LRA021"}
    assert suites[0].failures == 3 and suites[1].failures == 0


def test_github_annotations_are_escaped():
    lines = render(_result(), Format.GITHUB).splitlines()
    first = lines[0]
    assert first.startswith("::warning file=runs/exp 1/history.csv,line=3,title=LRA001 hidden-decay::")
    assert "100%25 sure" in first and "%0Asecond line" in first and "\n" not in first
    assert lines[1].startswith("::error file=runs/exp 1/console.log,line=5,title=LRA006 monitor-not-found::")
    assert lines[2].startswith("::notice file=runs/exp 1/tb/events.out,title=LRA021")
    assert github.escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    assert any(line.startswith("::notice title=lraudit runs/exp 1::skipped") for line in lines)


def test_markdown_has_a_table_per_run():
    out = render(_result(), Format.MARKDOWN)
    assert out.count("| severity | rule |") == 1 and "No findings." in out
    assert "monitors 'val_accuracy' \\| never logged" in out  # pipes escaped inside cells
    assert "## `runs/exp 1`" in out and "## `runs/clean`" in out


def test_text_is_plain_when_piped_and_rich_on_request(monkeypatch):
    plain = render(_result(), Format.TEXT, color=False)
    assert not ANSI.search(plain) and "2 runs: 1 error, 1 warning, 1 info" in plain
    assert ANSI.search(render(_result(), Format.TEXT, color=True))

    class Tty:
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert text.use_color(Tty()) and not text.use_color(object())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not text.use_color(Tty())
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert text.use_color(object())


def test_json_report_schema_fields():
    report = json.loads(render(_result(), Format.JSON))
    assert report["schema_version"] == "1"
    assert report["summary"] == {"runs": 2, "error": 1, "warning": 1, "info": 1}
    run = report["runs"][0]
    assert {"path", "inputs", "keras", "optimizer", "steps", "epochs", "steps_per_epoch", "findings"} <= set(
        run
    )
    finding = run["findings"][0]
    assert finding == {**finding, "code": "LRA001", "name": "hidden-decay", "severity": "warning",
                       "epoch": 1, "step": 39, "logged": 0.00075, "effective": 0.0004,
                       "source": "runs/exp 1/history.csv:3"}
    assert run["inputs"][1] == {"path": "runs/exp 1/notes.txt", "kind": None, "status": "skipped",
                                "reason": "not a training log"}
