"""Which optimizer the run used, under which Keras generation and backend (reference §1.8, §7.1).

The spec decides every later number: ``optimizer=`` overrides, else the config found in the
run; a config saved after training holds the *final* lr variable (``lr_is_final``, recovered in
:mod:`lraudit.reconstruction.changes`). The Keras 3 backend picks the executor whose arithmetic the
applied lr follows, so the evidence that chose it is written to the notes.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from lraudit.errors import UsageError
from lraudit.options import OptimizerOverride

if TYPE_CHECKING:
    from lraudit.options import RunOptions
    from lraudit.run import Run
    from lraudit.semantics.specs import CallbackSpec, OptimizerSpec


def parse_callbacks(
    options: RunOptions, run: Run | None = None, notes: list[str] | None = None
) -> list[CallbackSpec]:
    """The ``--callback`` expressions the user gave (replayed when the logs show no writes).

    Without any, the callbacks the training code passed to ``fit`` (read statically) are used.
    """
    if not options.callbacks:
        return code_callbacks(run, notes if notes is not None else []) if run is not None else []
    from lraudit.semantics.expressions import parse_callback_expr

    return [parse_callback_expr(text) for text in options.callbacks]


def choose_optimizer(run: Run, options: RunOptions, notes: list[str]) -> tuple[OptimizerSpec, str]:
    """The spec and where it came from: ``option`` | ``option-file`` | ``initial`` | ``final``."""
    from lraudit.semantics.optimizers import optimizer_spec_from_config

    keras_hint = keras_major(options.keras) or run.keras
    override = options.optimizer
    if isinstance(override, str):  # an expression (a file is read first by lraudit.api.run_options)
        from lraudit.semantics.expressions import parse_optimizer_expr

        text = override.strip()
        override = OptimizerOverride(text=text, spec=parse_optimizer_expr(text)) if text else None
    if override is not None:
        return _override_spec(override, keras_hint, notes)
    if run.optimizer_initial is not None:
        source = run.optimizer_source or run.path
        notes.append("optimizer from the config taken before training")
        return optimizer_spec_from_config(run.optimizer_initial, keras=keras_hint, source=source), "initial"
    from_code = _code_optimizer(run, keras_hint, notes)
    if from_code is not None:
        return from_code
    if run.optimizer is not None:
        source = run.optimizer_source or run.path
        spec = optimizer_spec_from_config(run.optimizer, keras=keras_hint, source=source)
        # a config found beside the logs was (almost always) saved after training
        return dataclasses.replace(spec, lr_is_final=True), "final"
    return unknown_optimizer(notes), "assumed"


def code_fit(run: Run, position: int = 0):
    """The code's ``fit`` call that produced the run's fit at ``position`` (None when unlinked)."""
    if run.code_facts is None or position >= len(run.code_fits):
        return None
    return run.code_fits[position]


def _code_optimizer(run: Run, keras_hint: str | None, notes: list[str]) -> tuple[OptimizerSpec, str] | None:
    """The optimizer the code compiled the run's first fit with, cited; None when the code does not say.

    Origin ``code``: the lr as constructed (or as set between fits) is the start value;
    ``code-lr-unknown``: the class and arguments come from the code but the lr at the start of
    this fit does not (a continued optimizer whose callbacks changed it): it is read from the logs.
    """
    from lraudit.code import lr_at_fit_start, optimizer_for_fit

    linked = code_fit(run)
    if linked is None:
        return None
    spec, citations = optimizer_for_fit(run.code_facts, linked.index)
    if spec is None:
        if citations:
            notes.append(f"the code does not give the optimizer: {'; '.join(citations[:2])}")
        return None
    start, _ = lr_at_fit_start(run.code_facts, linked.index)
    notes.append(f"optimizer from the code: {_cited(citations)}")
    # cells with no execution count: the code read may not be what produced the output
    notes.extend(note for note in linked.notes if note not in notes)
    return dataclasses.replace(spec, source=citations[0] if citations else "code"), (
        "code" if start is not None else "code-lr-unknown"
    )


def _cited(citations: list[str]) -> str:
    """``Adam(lr=LR) at nb.ipynb:cell 4:line 2; lr=0.001 at nb.ipynb:cell 1:line 3``: the construction,
    then only the values that came from elsewhere (a constant defined in another line)."""
    if not citations:
        return "the code"
    head = citations[0].removeprefix("optimizer ")
    where = head.rsplit(" at ", 1)[-1]
    others = [c for c in citations[1:] if not c.endswith(where) and not c.startswith("compiled at")]
    return "; ".join([head, *dict.fromkeys(others)][:4])


def _code_fit_callbacks(run: Run):
    """``(fit, spec, citations)`` for every lr-relevant callback the code passed to the run's fits."""
    from lraudit.code import callbacks_for_fit

    if run.code_facts is None:
        return
    for position, fit in enumerate(run.fits):
        linked = code_fit(run, position)
        if linked is None:
            continue
        specs, citations = callbacks_for_fit(run.code_facts, linked.index)
        for spec in specs:
            if spec.class_name in _REPLAYED_CALLBACKS:
                yield fit, spec, citations


def unevaluable_code_schedules(run: Run) -> list:
    """The code's LearningRateScheduler functions that cannot be evaluated from their ast."""
    found = []
    for _, spec, _ in _code_fit_callbacks(run):
        schedule = spec.kwargs.get("schedule")
        if schedule is not None and not getattr(schedule, "evaluable", True) and schedule not in found:
            found.append(schedule)
    return found


def code_callbacks(run: Run, notes: list[str]) -> list[CallbackSpec]:
    """The lr-relevant callbacks the code passed to the run's fits (as if given as options).

    Each keeps the epochs of the fits it was passed to (:attr:`CallbackSpec.epochs`): a
    ReduceLROnPlateau given to the third ``fit`` only is replayed over that fit's epochs. A
    LearningRateScheduler whose function cannot be evaluated is left out, said in a note.
    """
    for schedule in unevaluable_code_schedules(run):
        notes.append(
            f"LearningRateScheduler({schedule.name}) at {schedule.location} is not replayed: "
            f"{schedule.reason}; its writes are taken from the logs only"
        )
    merged: dict[tuple[str, str], CallbackSpec] = {}
    cited: list[str] = []
    for fit, spec, citations in _code_fit_callbacks(run):
        schedule = spec.kwargs.get("schedule")
        if schedule is not None and not getattr(schedule, "evaluable", True):
            continue
        key = (spec.class_name, _kwargs_text(spec.kwargs))
        ranges = (*(merged[key].epochs or ()), (fit.first_epoch, fit.end_epoch)) if key in merged else (
            (fit.first_epoch, fit.end_epoch),
        )
        merged[key] = dataclasses.replace(spec, epochs=ranges)
        cited.extend(c for c in citations if spec.class_name in c and c not in cited)
    wanted = list(merged.values())
    if wanted:
        named = ", ".join(f"{spec.class_name}({_kwargs_text(spec.kwargs)})" for spec in wanted)
        notes.append(f"callbacks from the code: {named} ({'; '.join(cited)[:300]})")
    return wanted


#: callbacks whose rule lraudit replays or checks
_REPLAYED_CALLBACKS = ("ReduceLROnPlateau", "LearningRateScheduler", "EarlyStopping")


def _kwargs_text(kwargs: dict) -> str:
    shown = []
    for key, value in kwargs.items():
        if key == "schedule":
            value = getattr(value, "name", value)
            shown.append(f"schedule={value}")
        else:
            shown.append(f"{key}={value!r}")
    return ", ".join(shown)


#: ``OptimizerSpec.class_name`` of the stand-in used when nothing tells the optimizer
UNKNOWN_OPTIMIZER = "unknown"


def unknown_optimizer(notes: list[str]) -> OptimizerSpec:
    """The stand-in when no config, code or option tells the optimizer: the logged lr is applied.

    The run is still audited (callback replay, writer conflicts, floors, shifted or downsampled
    logs); what cannot be checked without the optimizer is said in the note. The lr variable's
    start value is then read from the logs (:func:`lraudit.reconstruction.changes.initial_variable`).
    """
    from lraudit.semantics.specs import OptimizerSpec

    notes.append(
        "optimizer unknown: the logged lr is taken as applied - no legacy `decay`, no schedule; "
        'give --optimizer (e.g. --optimizer "Adam(learning_rate=1e-3)") to check that'
    )
    return OptimizerSpec(
        class_name=UNKNOWN_OPTIMIZER, generation=None, learning_rate=float("nan"), source="assumed"
    )


def per_step_dependency(spec: OptimizerSpec) -> str | None:
    """What in this optimizer changes the lr inside an epoch (then steps per epoch matter), or None."""
    from lraudit.semantics.optimizers import decay_applies

    if not isinstance(spec.learning_rate, (int, float)):
        return f"the {spec.learning_rate.class_name} schedule is evaluated at every optimizer step"
    if decay_applies(spec):
        return f"legacy decay={spec.decay:g} divides the lr at every batch"
    if (spec.gradient_accumulation_steps or 1) > 1:
        return f"gradient_accumulation_steps={spec.gradient_accumulation_steps} decides which batches update"
    return None


def _override_spec(
    override: OptimizerOverride, keras_hint: str | None, notes: list[str]
) -> tuple[OptimizerSpec, str]:
    """The spec of ``optimizer=``: an expression as parsed, a file's config as of the run's era."""
    from lraudit.semantics.optimizers import optimizer_spec_from_config

    if override.spec is not None:
        spec = override.spec
        if keras_hint in ("2", "3") and spec.generation is None:
            # the Keras version known from --keras or the logs picks the constructor's defaults
            from lraudit.semantics.defaults import eras_for_keras
            from lraudit.semantics.expressions import parse_optimizer_expr

            try:
                spec = parse_optimizer_expr(override.text, generation=eras_for_keras(keras_hint))
            except UsageError:  # an override built in code, not from an expression
                spec = override.spec
        notes.append(f"optimizer from --optimizer: {override.text.strip()}")
        return dataclasses.replace(spec, source=spec.source or "--optimizer"), "option"
    path = override.path or override.text
    if override.initial is not None:
        notes.append(f"optimizer from --optimizer {path} (config taken before training)")
        return optimizer_spec_from_config(override.initial, keras=keras_hint, source=path), "initial"
    if override.config is None:
        raise UsageError(f"optimizer={path!r}: no optimizer config found in that file", argument="optimizer")
    notes.append(f"optimizer from --optimizer {path}")
    spec = optimizer_spec_from_config(override.config, keras=keras_hint, source=path)
    return dataclasses.replace(spec, lr_is_final=True), "final"


def keras_generation(run: Run, options: RunOptions, spec: OptimizerSpec) -> str:
    """``"2"`` or ``"3"``: ``--keras``, then the logs, then what the optimizer spec implies."""
    if keras_major(options.keras):
        return keras_major(options.keras)
    if run.keras in ("2", "3"):
        return run.keras
    if spec.generation:
        return "3" if spec.generation == "k3" else "2"
    if spec.gradient_accumulation_steps:
        return "3"
    return "2"


def complete_spec(
    spec: OptimizerSpec, keras: str, run: Run, options: RunOptions, notes: list[str]
) -> OptimizerSpec:
    """Fill what the spec's origin could not tell: generation (from --keras/logs) and backend.

    The Keras 3 backend decides the arithmetic of the applied lr (reference §1.8); the evidence
    that chose it is noted: ``--backend``, a file naming it, the optimizer's backend-specific
    module (torch), or the resolved ``jit_compile`` of the compile settings (TensorBoard's model
    summary, a ``.keras`` model). Without any, TensorFlow is assumed (see
    :func:`note_assumed_backend`). ``jit_compile`` is set when the run says XLA compiled the train
    step (:func:`_xla_evidence`): Keras 2 and Keras 3 on TensorFlow then run XLA's arithmetic.
    """
    changes: dict[str, Any] = {}
    if spec.generation is None or (keras == "3") != (spec.generation == "k3"):
        # the legacy OptimizerV2 is what Keras 2 code with a float lr (and `decay`) runs
        changes["generation"] = "k3" if keras == "3" else "k2-legacy"
    backend = getattr(options, "backend", "auto") or "auto"
    evidence = None
    if backend != "auto":
        changes["backend"] = backend
        evidence = f"given with --backend {backend}"
    elif spec.backend is not None:
        evidence = f"the optimizer's class is backend-specific ({spec.source or 'the optimizer'})"
    elif run.backend:
        changes["backend"] = run.backend
        evidence = getattr(run, "backend_evidence", None) or "the logs name it"
    elif keras == "3" and run.compile_config.get("jit_compile") is True:
        # Keras 3 resolves jit_compile="auto" to True only where XLA compiles the train step
        # (JAX; TensorFlow only with a GPU or when asked): XLA's arithmetic is what ran.
        changes["backend"] = "jax"
        evidence = (
            "the compile settings (TensorBoard's model summary or a saved model) say "
            "jit_compile=True: XLA compiled the train step, Keras 3's default on JAX"
        )
    elif (
        keras == "3"
        and run.compile_config.get("jit_compile") is False
        and run.compile_config.get("run_eagerly") is not True
    ):
        # TensorFlow's default resolves to False and runs a tf.function graph; torch is told by
        # the optimizer's module, JAX only gives False when the user asked for it
        changes["backend"] = "tensorflow"
        evidence = (
            "the compile settings (TensorBoard's model summary or a saved model) say "
            "jit_compile=False, run_eagerly=False: a graph without XLA, Keras 3's default on "
            "TensorFlow (a JAX run compiled with jit_compile=False needs --backend jax)"
        )
    xla = _xla_evidence(spec, run)
    if xla is not None:
        changes["jit_compile"] = True
        evidence = _with_xla_evidence(evidence, xla, keras)
    completed = dataclasses.replace(spec, **changes) if changes else spec
    if keras == "3" and evidence is not None and completed.backend:
        from lraudit.semantics.optimizers import default_executor

        notes.append(
            f"Keras 3 backend {completed.backend} ({default_executor(completed)} arithmetic): {evidence}"
        )
    elif keras == "2" and completed.jit_compile:
        notes.append(f"Keras 2 train step compiled by XLA (xla arithmetic): {evidence}")
    _note_wrapper(completed, notes)
    return completed


def _with_xla_evidence(evidence: str | None, xla: str, keras: str) -> str:
    """The backend's evidence and why XLA's arithmetic applies (once, Keras 2: XLA's alone)."""
    if evidence is None or keras == "2":
        return xla
    return evidence if "jit_compile=True" in evidence else f"{evidence}; {xla}"


def _note_wrapper(spec: OptimizerSpec, notes: list[str]) -> None:
    """Say that a LossScaleOptimizer around the optimizer leaves the lr to it (reference §1.5)."""
    if spec.wrapper:
        notes.append(
            f"{spec.class_name} wrapped in {spec.wrapper} (mixed precision): the wrapper scales the "
            f"loss and delegates learning_rate and iterations, so the lr is the {spec.class_name}'s"
        )


def _xla_evidence(spec: OptimizerSpec, run: Run) -> str | None:
    """Why XLA compiled the train step (reference §1.8), or None when the run does not say so.

    ``jit_compile=True`` in the compile settings (TensorBoard's Keras 3 model summary, a saved
    model), or, when they do not say, TensorFlow's console line ``Compiled cluster using XLA!``
    unless the optimizer compiles its own update: the 2.11+ Keras 2 optimizer's ``jit_compile``
    (True by default) XLA-compiles the update but reads the schedule outside it, so the line then
    says nothing about the lr's arithmetic.
    """
    told = run.compile_config.get("jit_compile")
    if told is not None:
        if told is not True:
            return None
        return "the compile settings say jit_compile=True: XLA compiled the train step"
    if run.compile_config.get("xla_compiled") is True and spec.raw.get("jit_compile") is not True:
        return (
            "TensorFlow logged 'Compiled cluster using XLA!' and the optimizer compiles nothing "
            "itself: the train step ran with jit_compile=True"
        )
    return None


def note_assumed_backend(spec: OptimizerSpec, counter, variable, notes: list[str]) -> None:
    """Keras 3 logs rarely say whether TensorFlow or JAX ran the step; say when it matters."""
    from lraudit.semantics.optimizers import executors_agree

    if not executors_agree(spec, counter, variable):
        notes.append(
            "the logs do not tell the Keras 3 backend and the applied lr depends on it "
            "(compiled TensorFlow, XLA and eager arithmetic differ here): assumed TensorFlow; "
            "pass --backend jax|torch|tensorflow"
        )


def fit_optimizer_specs(
    run: Run, options: RunOptions, keras: str, n_fits: int, notes: list[str]
) -> dict[int, OptimizerSpec]:
    """Fresh optimizers given per fit (``"2:Adam(...)"``), by fit plan position (0-based), completed."""
    from lraudit.semantics.expressions import parse_optimizer_expr

    found: dict[int, OptimizerSpec] = {}
    for number, override in sorted(options.fit_optimizers.items()):
        if number > n_fits:
            raise UsageError(
                f"optimizer for fit {number}: the logs of {run.path} show {n_fits} fit(s)",
                argument="optimizer",
            )
        if isinstance(override, str):
            override = OptimizerOverride(text=override, spec=parse_optimizer_expr(override))
        spec, _ = _override_spec(override, keras, [])
        given = f"--optimizer {number}:{override.text}"
        spec = complete_spec(dataclasses.replace(spec, source=given), keras, run, options, [])
        notes.append(f"fit {number}: a fresh optimizer compiled before it ({given})")
        found[number - 1] = spec
    return found


def code_fit_start_lr(run: Run, n_fits: int, notes: list[str]) -> dict[int, float]:
    """The lr the code sets between fits of one optimizer (``K.set_value(opt.lr, ...)``), by fit
    plan position, when it states the value; each is cited in a note."""
    from lraudit.code import lr_at_fit_start

    found: dict[int, float] = {}
    for position in range(1, n_fits):
        linked = code_fit(run, position)
        if linked is None or linked.continues_fit is None or not linked.lr_changes:
            continue
        value, reasons = lr_at_fit_start(run.code_facts, linked.index)
        if isinstance(value, (int, float)):
            found[position] = float(value)
            where = "; ".join(c.location for c in linked.lr_changes if c.location) or reasons[0]
            notes.append(f"fit {position + 1}: the code sets the lr to {value:g} before it ({where})")
    return found


def keras_major(keras: str | None) -> str | None:
    """``"2"``/``"3"`` of a ``keras=`` option given as a generation or a version (None for auto)."""
    if not keras or keras == "auto":
        return None
    return keras.split(".", 1)[0] if keras.split(".", 1)[0] in ("2", "3") else None


def keras_release(options: RunOptions, keras: str) -> str:
    """The Keras release whose callbacks replay (a version given with ``keras=``, else the generation)."""
    return options.keras if options.keras and "." in options.keras else keras
