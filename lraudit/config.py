"""``[tool.lraudit]`` defaults from the first ``pyproject.toml`` found upward from the cwd.

Keys: ``fail-on`` (error|warning|info|never), ``select`` and ``ignore`` (list of codes or a
comma-separated string), ``format``. Command-line options win over these defaults.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lraudit.errors import UsageError

try:  # Python 3.11+
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - Python 3.10 without tomli: no config file support
    try:
        import tomli as _toml  # type: ignore[no-redef]
    except ModuleNotFoundError:
        _toml = None  # type: ignore[assignment]


@dataclass
class AuditConfig:
    """Audit defaults; ``path`` is the pyproject.toml they came from (None: built-in defaults)."""

    fail_on: str | None = None
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    format: str | None = None
    path: Path | None = None
    #: problems worth a warning (unknown keys): the command line shows them on stderr
    warnings: list[str] = field(default_factory=list)


#: the keys of ``[tool.lraudit]`` (``_`` spellings are accepted too)
KNOWN_KEYS = ("fail-on", "select", "ignore", "format")
FAIL_ON_VALUES = ("error", "warning", "info", "never")
FORMAT_VALUES = ("text", "json", "junit", "sarif", "github", "markdown")


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` (default: cwd) or one of its parents."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _codes(value: Any, key: str, path: Path) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise UsageError(f"{path}: [tool.lraudit] {key} must be a list of rule codes, not {value!r}")


def _choice(value: Any, key: str, path: Path, allowed: tuple[str, ...]) -> str:
    text = str(value).strip().lower()
    if not isinstance(value, str) or text not in allowed:
        raise UsageError(f"{path}: [tool.lraudit] {key} must be one of {', '.join(allowed)}, not {value!r}")
    return text


def load_config(start: Path | None = None) -> AuditConfig:
    """Read ``[tool.lraudit]``; no file, no table, or no TOML reader -> built-in defaults."""
    path = find_pyproject(start)
    if path is None or _toml is None:
        return AuditConfig()
    try:
        data = _toml.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, _toml.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read [tool.lraudit]: {exc}") from exc
    table = data.get("tool", {}).get("lraudit")
    if table is None:
        return AuditConfig()
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.lraudit] must be a table of settings, not {table!r}")
    config = AuditConfig(path=path)
    for key, value in table.items():
        name = key.replace("_", "-")
        if name == "fail-on":
            config.fail_on = _choice(value, key, path, FAIL_ON_VALUES)
        elif name == "format":
            config.format = _choice(value, key, path, FORMAT_VALUES)
        elif name == "select":
            config.select = _codes(value, key, path)
        elif name == "ignore":
            config.ignore = _codes(value, key, path)
        else:
            config.warnings.append(
                f"{path}: [tool.lraudit] unknown key {key!r} ignored (known: {', '.join(KNOWN_KEYS)})"
            )
    return config
