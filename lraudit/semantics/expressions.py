"""``--optimizer`` / ``--callback`` expressions: parsed, never evaluated.

The text is parsed with :func:`ast.parse` (``mode="eval"``) and walked against a whitelist:
a call of a known optimizer, schedule or callback class (optionally behind one of the
usual module prefixes) with literal arguments only (numbers, with unary minus; strings;
``True``/``False``/``None``; lists/tuples of literals; a whitelisted schedule call as the
optimizer's ``learning_rate``). Positional arguments are mapped to the real constructor
signatures. Anything else is a :class:`~lraudit.errors.UsageError` whose one-line message
names the problem. No name is ever looked up and no code of the expression ever runs.

A ``LearningRateScheduler`` schedule function is given as ``"path/file.py:fn"`` or
``"module:fn"`` (quoted or not) and kept as the string kwarg ``schedule``; it is imported only
by :func:`lraudit.semantics.callbacks.load_schedule_function` when the replay needs it.
"""
from __future__ import annotations

import ast
import difflib
import re
from pathlib import Path
from typing import Any

from lraudit.errors import InputError, UsageError
from lraudit.semantics.defaults import ERA_TITLES, era_optimizer
from lraudit.semantics.schedules import MODULE_PREFIXES, SCHEDULE_ALIASES, SCHEDULES
from lraudit.semantics.specs import CallbackSpec, OptimizerSpec, ScheduleSpec

_REQUIRED = object()  # marks a constructor argument without a default

#: optimizer -> positional parameters after which only keywords follow, with defaults, used
#: while the era is unknown (tf.keras / Keras 3 names; the default lr is the tf.keras 2.x and
#: Keras 3 one); a known era binds with its own signature from :mod:`lraudit.semantics.defaults`
OPTIMIZER_SIGNATURES: dict[str, tuple[tuple[str, Any], ...]] = {
    "SGD": (("learning_rate", 0.01), ("momentum", 0.0), ("nesterov", False)),
    "RMSprop": (
        ("learning_rate", 0.001), ("rho", 0.9), ("momentum", 0.0), ("epsilon", 1e-7),
        ("centered", False),
    ),
    "Adam": (
        ("learning_rate", 0.001), ("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7),
        ("amsgrad", False),
    ),
    "AdamW": (
        ("learning_rate", 0.001), ("weight_decay", 0.004), ("beta_1", 0.9), ("beta_2", 0.999),
        ("epsilon", 1e-7), ("amsgrad", False),
    ),
    "Adagrad": (("learning_rate", 0.001), ("initial_accumulator_value", 0.1), ("epsilon", 1e-7)),
    "Adadelta": (("learning_rate", 0.001), ("rho", 0.95), ("epsilon", 1e-7)),
    "Adamax": (("learning_rate", 0.001), ("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7)),
    "Nadam": (("learning_rate", 0.001), ("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7)),
    "Ftrl": (
        ("learning_rate", 0.001), ("learning_rate_power", -0.5),
        ("initial_accumulator_value", 0.1), ("l1_regularization_strength", 0.0),
        ("l2_regularization_strength", 0.0), ("l2_shrinkage_regularization_strength", 0.0),
        ("beta", 0.0),
    ),
    "Lion": (("learning_rate", 0.001), ("beta_1", 0.9), ("beta_2", 0.99)),
    "Lamb": (("learning_rate", 0.001), ("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7)),
}

#: keyword-only arguments every optimizer accepts in some generation (``lr``/``decay``: Keras 2
#: legacy; ``weight_decay`` ... ``gradient_accumulation_steps``: the new optimizer / Keras 3)
OPTIMIZER_COMMON_KWARGS = (
    "lr", "decay", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema",
    "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
    "gradient_accumulation_steps", "jit_compile", "name", "mesh",
)
#: per-class keywords of older generations (standalone / OptimizerV2)
_OPTIMIZER_EXTRA_KWARGS = {"Nadam": ("schedule_decay",), "Adamax": ("amsgrad",)}

#: schedule -> its constructor signature, read from the schedule classes (the single source);
#: expressions accept their legacy aliases too (:data:`_SCHEDULE_NAMES`)
SCHEDULE_SIGNATURES: dict[str, tuple[tuple[str, Any], ...]] = {
    name: tuple((p.name, _REQUIRED if p.required else p.default) for p in cls.signature())
    for name, cls in SCHEDULES.items()
}

CALLBACK_SIGNATURES: dict[str, tuple[tuple[str, Any], ...]] = {
    "ReduceLROnPlateau": (
        ("monitor", "val_loss"), ("factor", 0.1), ("patience", 10), ("verbose", 0),
        ("mode", "auto"), ("min_delta", 1e-4), ("cooldown", 0), ("min_lr", 0.0),
    ),
    "LearningRateScheduler": (("schedule", _REQUIRED), ("verbose", 0)),
    "EarlyStopping": (
        ("monitor", "val_loss"), ("min_delta", 0), ("patience", 0), ("verbose", 0),
        ("mode", "auto"), ("baseline", None), ("restore_best_weights", False),
        ("start_from_epoch", 0),
    ),
}
#: keyword-only extras: ``epsilon`` is ReduceLROnPlateau's threshold up to Keras 2.1.5
_CALLBACK_EXTRA_KWARGS = {"ReduceLROnPlateau": ("epsilon",)}

_OPTIMIZER_PREFIXES = {
    "": None,
    "optimizers.": None,
    "keras.optimizers.": None,
    "tf.keras.optimizers.": None,
    "tensorflow.keras.optimizers.": None,
    "tf_keras.optimizers.": "k2-new",
    "legacy.": "k2-legacy",
    "optimizers.legacy.": "k2-legacy",
    "keras.optimizers.legacy.": "k2-legacy",
    "tf.keras.optimizers.legacy.": "k2-legacy",
    "tensorflow.keras.optimizers.legacy.": "k2-legacy",
    "tf_keras.optimizers.legacy.": "k2-legacy",
    "tf.optimizers.": None,
    "tf.optimizers.legacy.": "k2-legacy",
}
_SCHEDULE_PREFIXES = MODULE_PREFIXES
#: every schedule name an expression may use: class names, then their legacy aliases
_SCHEDULE_NAMES = {
    **SCHEDULE_SIGNATURES,
    **{alias: SCHEDULE_SIGNATURES[name] for alias, name in SCHEDULE_ALIASES.items()},
}
_CALLBACK_PREFIXES = (
    "", "callbacks.", "keras.callbacks.", "tf.keras.callbacks.",
    "tensorflow.keras.callbacks.", "tf_keras.callbacks.",
)

#: an unquoted ``file.py:fn`` / ``module:fn`` as LearningRateScheduler's first argument
_BARE_FUNCTION_REF = re.compile(
    r"(LearningRateScheduler\s*\(\s*(?:schedule\s*=\s*)?)"
    r"([^\s,'\"()=]+:[A-Za-z_]\w*)(?=\s*[,)])"
)
_FUNCTION_REF = re.compile(r"^[^\s,'\"()]+:[A-Za-z_]\w*$")


def _did_you_mean(name: str, known: Any) -> str:
    # a case slip (Adamw -> AdamW) first, then the closest spelling
    close = [k for k in known if k.lower() == name.lower()]
    if not close:
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --------------------------------------------------------------------------------------------
# AST walking
# --------------------------------------------------------------------------------------------


def _dotted_name(node: ast.expr, option: str) -> str:
    """``a.b.C`` as text; anything but names and attributes is rejected."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise UsageError(f"{option}: only a call of a known class is allowed, not {ast.unparse(node)!r}")
    parts.append(node.id)
    return ".".join(reversed(parts))


def _split_prefix(dotted: str, prefixes: Any) -> tuple[str, str] | None:
    """(prefix, class name) when ``dotted`` is a known prefix + a bare name, else None."""
    prefix, _, name = dotted.rpartition(".")
    prefix = f"{prefix}." if prefix else ""
    if prefix in prefixes:
        return prefix, name
    return None


def _known_class(call: ast.Call, option: str, kind: str, prefixes: Any, signatures: Any) -> tuple[str, str]:
    """(prefix, class name) of the ``kind`` (optimizer, schedule, callback) that ``call`` builds.

    One lookup for the three kinds so an unknown name is reported the same way everywhere: a
    usage error with a close match and the known names (an optimizer spelled as a schedule is
    told where a schedule goes).
    """
    dotted = _dotted_name(call.func, option)
    split = _split_prefix(dotted, prefixes)
    if split is None or split[1] not in signatures:
        name = dotted.rpartition(".")[2]
        hint = ""
        if kind == "optimizer" and name in SCHEDULE_SIGNATURES:
            hint = " (a schedule must be the optimizer's learning_rate)"
        raise UsageError(
            f"unknown {kind} {dotted!r} in {option}{hint}{_did_you_mean(name, signatures)}"
            f"; known: {', '.join(signatures)}"
        )
    return split


def _literal(node: ast.expr, option: str, where: str) -> Any:
    """A literal value: number (unary +/- allowed), string, True/False/None, list/tuple."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (bool, int, float, str)) or node.value is None:
            return node.value
        raise UsageError(f"{option}: {where} must be a number, string, bool or None")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = node.operand
        if isinstance(operand, ast.Constant) and type(operand.value) in (int, float):
            return -operand.value if isinstance(node.op, ast.USub) else operand.value
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [_literal(item, option, where) for item in node.elts]
        return values if isinstance(node, ast.List) else tuple(values)
    raise UsageError(
        f"{option}: {where} must be a literal (number, string, True/False/None, list), "
        f"not {ast.unparse(node)!r}"
    )


def _bind(
    call: ast.Call,
    class_name: str,
    signature: tuple[tuple[str, Any], ...],
    extra_kwargs: tuple[str, ...],
    option: str,
    convert: Any,
) -> dict[str, Any]:
    """Map positional and keyword arguments of ``call`` to parameter names (given ones only)."""
    names = [name for name, _ in signature]
    allowed = set(names) | set(extra_kwargs)
    if len(call.args) > len(names):
        raise UsageError(
            f"{option}: {class_name} takes at most {len(names)} positional arguments "
            f"({', '.join(names)}), got {len(call.args)}"
        )
    bound: dict[str, Any] = {}
    for name, node in zip(names, call.args, strict=False):
        if isinstance(node, ast.Starred):
            raise UsageError(f"{option}: *args are not allowed in {class_name}(...)")
        bound[name] = convert(name, node)
    for keyword in call.keywords:
        if keyword.arg is None:
            raise UsageError(f"{option}: **kwargs are not allowed in {class_name}(...)")
        if keyword.arg not in allowed:
            raise UsageError(
                f"{option}: unknown argument {keyword.arg!r} for {class_name}; known: "
                f"{', '.join(sorted(allowed))}"
            )
        if keyword.arg in bound:
            raise UsageError(f"{option}: argument {keyword.arg!r} given twice to {class_name}")
        bound[keyword.arg] = convert(keyword.arg, keyword.value)
    missing = [name for name, default in signature if default is _REQUIRED and name not in bound]
    if missing:
        raise UsageError(f"{option}: {class_name} needs {', '.join(missing)}")
    return bound


def _parse_call(text: str, option: str) -> ast.Call:
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"{option}: empty expression")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise UsageError(f"{option}: not a valid expression: {text!r} ({exc.msg})") from None
    if not isinstance(tree.body, ast.Call):
        raise UsageError(f"{option}: expected a call such as Adam(learning_rate=1e-3), got {text!r}")
    return tree.body


def _schedule(call: ast.Call, option: str) -> ScheduleSpec:
    """The schedule ``call`` builds, bound to its class's signature and checked as Keras checks it."""
    _, given_name = _known_class(call, option, "schedule", _SCHEDULE_PREFIXES, _SCHEDULE_NAMES)
    class_name = SCHEDULE_ALIASES.get(given_name, given_name)
    cls = SCHEDULES[class_name]
    signature = SCHEDULE_SIGNATURES[class_name]
    bound = _bind(
        call, class_name, signature, (), option,
        lambda name, node: _literal(node, option, f"{class_name} argument {name!r}"),
    )
    # every key get_config() lists, in its order (name only when given)
    config = {
        name: bound.get(name, default)
        for name, default in signature
        if name in bound or name != "name"
    }
    try:
        cls.from_config(config)  # Keras' own checks: decay_steps > 0, boundaries/values lengths...
    except InputError as exc:
        raise UsageError(f"{option}: {exc}") from None
    return ScheduleSpec(class_name=class_name, config=config)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _optimizer_era(class_name: str, prefix_era: str | None, hint: str | tuple[str, ...] | None) -> str | None:
    """The era whose signature binds the call: the prefix's, else the first hinted era with the class.

    A prefix naming an era that lacks the class (``legacy.AdamW``) is a usage error, as it is
    an AttributeError in Keras; a hint that fits no era leaves the era unknown.
    """
    if prefix_era is not None:
        if era_optimizer(class_name, prefix_era) is None:
            raise UsageError(f"{class_name} does not exist in {ERA_TITLES[prefix_era]}")
        return prefix_era
    candidates = (hint,) if isinstance(hint, str) else tuple(hint or ())
    return next((era for era in candidates if era_optimizer(class_name, era) is not None), None)


def _era_signature(class_name: str, era: str | None, positional: int) -> tuple[tuple, tuple[str, ...], bool]:
    """(signature, extra keywords, ``lr=`` ignored) to bind a call with ``positional`` arguments.

    Inside an era the representative signature binds, unless the call has more positional
    arguments than it takes and an older release of the era took them (standalone Keras 2.2's
    ``Adam(0.001, 0.9, 0.999, 1e-8, 0.01)``: the fifth is ``decay``).
    """
    extra = OPTIMIZER_COMMON_KWARGS + _OPTIMIZER_EXTRA_KWARGS.get(class_name, ())
    entry = era_optimizer(class_name, era) if era else None
    if entry is None:
        return OPTIMIZER_SIGNATURES[class_name], extra, False
    chosen = next((sig for sig in entry.signatures if len(sig.parameters) >= positional), entry.signature)
    extra += (*(name for name, _ in chosen.keyword_only), "learning_rate", "lr")
    return chosen.parameters, extra, dict(chosen.legacy).get("lr") == "ignored"


def parse_optimizer_expr(
    text: str, option: str = "--optimizer", generation: str | tuple[str, ...] | None = None
) -> OptimizerSpec:
    """Parse ``"Adam(lr=1e-3, decay=1e-2)"`` or ``"SGD(learning_rate=ExponentialDecay(...))"``.

    The generation is ``"k2-legacy"`` for a ``legacy.`` prefix and ``"k2-new"`` for
    ``tf_keras.optimizers.``; else the first era of ``generation`` (an era, or candidate eras
    from :func:`lraudit.semantics.defaults.eras_for_keras`) that has the class; else None
    (``lr=``/``decay=`` alone do not decide: the timeline does, with ``--keras``). A known era
    binds positional arguments and fills defaults with that era's constructor (``Lion()`` is
    1e-4 in tf.keras 2.13-2.15, 1e-3 in Keras 3; the new optimizer ignores ``lr=``); an unknown
    one uses :data:`OPTIMIZER_SIGNATURES`. ``raw`` holds the arguments exactly as given
    (positional ones under their parameter names; a schedule as its :class:`ScheduleSpec`).
    When both ``lr`` and ``learning_rate`` are given, ``learning_rate`` takes ``lr`` (the alias
    wins in the generations that accept it).
    """
    call = _parse_call(text, option)
    prefix, class_name = _known_class(call, option, "optimizer", _OPTIMIZER_PREFIXES, OPTIMIZER_SIGNATURES)
    era = _optimizer_era(class_name, _OPTIMIZER_PREFIXES[prefix], generation)
    signature, extra_kwargs, lr_ignored = _era_signature(class_name, era, len(call.args))

    def convert(name: str, node: ast.expr) -> Any:
        if name in ("learning_rate", "lr") and isinstance(node, ast.Call):
            return _schedule(node, option)
        return _literal(node, option, f"{class_name} argument {name!r}")

    raw = _bind(call, class_name, signature, extra_kwargs, option, convert)
    defaults = dict(signature)
    default_lr = defaults.get("learning_rate", defaults.get("lr"))
    if lr_ignored:
        learning_rate = raw.get("learning_rate", default_lr)
    else:
        learning_rate = raw.get("lr", raw.get("learning_rate", default_lr))
    if not isinstance(learning_rate, (int, float, ScheduleSpec)) or isinstance(learning_rate, bool):
        raise UsageError(f"{option}: learning_rate must be a number or a schedule, not {learning_rate!r}")
    decay = raw.get("decay", 0.0)
    if not isinstance(decay, (int, float)) or isinstance(decay, bool):
        raise UsageError(f"{option}: decay must be a number, not {decay!r}")
    weight_decay = raw.get("weight_decay", defaults.get("weight_decay"))
    accumulation = raw.get("gradient_accumulation_steps")
    return OptimizerSpec(
        class_name=class_name,
        generation=era,
        learning_rate=learning_rate if isinstance(learning_rate, ScheduleSpec) else float(learning_rate),
        decay=float(decay),
        weight_decay=None if weight_decay is None else float(weight_decay),
        gradient_accumulation_steps=None if accumulation is None else int(accumulation),
        raw=raw,
        source=option,
    )


def parse_callback_expr(text: str, option: str = "--callback") -> CallbackSpec:
    """Parse ``"ReduceLROnPlateau(monitor='val_loss', factor=0.75, patience=3)"``,
    ``"LearningRateScheduler(path/to/file.py:fn, verbose=1)"`` or ``"EarlyStopping(...)"``.

    ``kwargs`` holds the arguments given (positional ones under their parameter names);
    defaults are left to the callback's era. A LearningRateScheduler's schedule must be a
    function reference ``file.py:fn`` or ``module:fn`` (quoted or not), kept as a string.
    """
    source = text.strip() if isinstance(text, str) else text
    if isinstance(source, str):
        source = _BARE_FUNCTION_REF.sub(lambda m: f"{m.group(1)}{m.group(2)!r}", source)
    call = _parse_call(source, option)
    _, class_name = _known_class(call, option, "callback", _CALLBACK_PREFIXES, CALLBACK_SIGNATURES)

    def convert(name: str, node: ast.expr) -> Any:
        if class_name == "LearningRateScheduler" and name == "schedule":
            value = node.value if isinstance(node, ast.Constant) else None
            if not isinstance(value, str) or not _FUNCTION_REF.match(value):
                raise UsageError(
                    f"{option}: give LearningRateScheduler's schedule as path/to/file.py:function "
                    f"or module:function, not {ast.unparse(node)!r}"
                )
            return value
        return _literal(node, option, f"{class_name} argument {name!r}")

    kwargs = _bind(
        call, class_name, CALLBACK_SIGNATURES[class_name],
        _CALLBACK_EXTRA_KWARGS.get(class_name, ()), option, convert,
    )
    if class_name == "ReduceLROnPlateau":
        factor = kwargs.get("factor", 0.1)
        if isinstance(factor, (int, float)) and not isinstance(factor, bool) and factor >= 1.0:
            raise UsageError(f"{option}: ReduceLROnPlateau does not support a factor >= 1.0 (got {factor})")
    return CallbackSpec(class_name=class_name, kwargs=kwargs, source=option)


#: Keras callbacks that never write the lr but are worth naming when read from code
OTHER_CALLBACKS = (
    "CSVLogger", "TensorBoard", "ModelCheckpoint", "ProgbarLogger", "TerminateOnNaN",
    "LambdaCallback", "BackupAndRestore", "RemoteMonitor", "History", "BaseLogger",
    "SwapEMAWeights",
)
#: standalone Keras 2.0-2.3 lowercase aliases (``keras.optimizers.rmsprop(lr=...)``)
_LOWERCASE_OPTIMIZERS = {name.lower(): name for name in OPTIMIZER_SIGNATURES}


def classify_class(dotted: str) -> tuple[str, str, str | None] | None:
    """What a dotted class name as written in code builds, by the same whitelist as the options.

    Returns ``(kind, class name, generation)`` with kind ``"optimizer"``, ``"schedule"`` or
    ``"callback"`` (the generation only for optimizers behind a ``legacy.``/``tf_keras.``
    prefix), or None for anything else. The lowercase aliases of standalone Keras 2
    (``rmsprop``, ``adam``) are optimizers too.
    """
    split = _split_prefix(dotted, _OPTIMIZER_PREFIXES)
    if split is not None:
        name = split[1] if split[1] in OPTIMIZER_SIGNATURES else _LOWERCASE_OPTIMIZERS.get(split[1], "")
        if name and (name == split[1] or split[1].islower()):
            return "optimizer", name, _OPTIMIZER_PREFIXES[split[0]]
    split = _split_prefix(dotted, _SCHEDULE_PREFIXES)
    if split is not None and split[1] in SCHEDULE_SIGNATURES:
        return "schedule", split[1], None
    split = _split_prefix(dotted, _CALLBACK_PREFIXES)
    if split is not None and (split[1] in CALLBACK_SIGNATURES or split[1] in OTHER_CALLBACKS):
        return "callback", split[1], None
    return None


def parse_schedule_expr(text: str, option: str = "--optimizer") -> ScheduleSpec:
    """Parse ``"ExponentialDecay(0.1, 1000, 0.96)"`` (a schedule alone) into a :class:`ScheduleSpec`.

    Same whitelist and literal rules as a schedule given as an optimizer's ``learning_rate``.
    """
    return _schedule(_parse_call(text, option), option)


def load_optimizer_arg(
    text: str, generation: str | tuple[str, ...] | None = None
) -> tuple[str, Path | OptimizerSpec]:
    """Resolve ``--optimizer``: ``("file", Path)`` for an existing file, else ``("expr", spec)``.

    ``generation`` (an era or candidate eras) is passed to :func:`parse_optimizer_expr`.

    A file (optimizer config JSON, ``.h5``/``.keras`` model) is handed back unread: the config
    and model sources read it. Text that looks like a path (ends in ``.json``/``.h5``/
    ``.keras``/``.hdf5``, or has no parenthesis but a path separator) and does not exist is an
    :class:`~lraudit.errors.InputError`; anything else must parse as an expression.
    """
    candidate = Path(text).expanduser()
    if candidate.is_file():
        return "file", candidate
    stripped = text.strip()
    looks_like_path = stripped.lower().endswith((".json", ".h5", ".hdf5", ".keras")) or (
        "(" not in stripped and ("/" in stripped or "\\" in stripped)
    )
    if looks_like_path:
        raise InputError(f"--optimizer: file {text!r} does not exist")
    return "expr", parse_optimizer_expr(stripped, generation=generation)
