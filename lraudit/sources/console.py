"""Keras console output (``model.fit`` stdout/stderr) of every era, read in bounded memory.

What a console log holds (reference: keras-lr-semantics.md §4, §6, Appendix C):

* ``Epoch N/M`` headers (1-based N, M = the ``epochs`` argument);
* progress bars redrawn in place with ``\\b`` runs and ``\\r`` (Keras 2 ``[====>...]``,
  Keras 3 ANSI-coloured ``━``), or one ``\\n`` line per update when the display was not dynamic;
  the *final* line of an epoch (``20/20 [====] - 1s 23ms/step - loss: 4.4432 - lr: 0.0010``)
  carries the epoch's logs; verbose=2 prints only that line, in several era-specific forms;
* callback messages (ReduceLROnPlateau M1–M5, LearningRateScheduler, EarlyStopping) and
  warnings (missing monitor, ``lr`` deprecation, ignored/rejected ``decay``);
* TensorFlow's ``Compiled cluster using XLA!`` (logged once per process when XLA compiles a
  function: the train step under ``compile(jit_compile=True)``, or the 2.11+ Keras 2 optimizer's
  own update): ``compile_config["xla_compiled"] = True`` and backend TensorFlow (JAX never
  prints it).

Why the reader works on line *tails*: every piece of text that matters ends a ``\\n``-terminated
line — a header, a message (Keras prints them with a trailing newline, even in the middle of a
bar: ``...\\r\\nEpoch 5: ReduceLROnPlateau ...\\r\\n``), a warning, and the final bar line
(the progress bar writes ``\\n`` when it finalises). In-progress redraws never end a line unless a
message interrupts them. So the file is streamed in fixed-size chunks, ``\\n`` positions are found
with ``bytes.find`` (C speed, also inside megabyte-long redraw lines), and only the last segment
of each line (the text after its last ``\\r`` or ``\\b``, at most :data:`_TAIL_BYTES`) and the
first segment (to notice a new bar starting, e.g. ``evaluate()`` after ``fit()``) are decoded.

Epoch numbering of printed messages: M2–M5, LearningRateScheduler and EarlyStopping (from Keras
2.0.9) print ``epoch + 1``; Keras 2.0.0–2.0.8 printed the 0-based epoch with the same ``%05d``
format (M1: ``Epoch 00003: reducing learning rate to ...`` without "ReduceLROnPlateau", and
``Epoch 00003: early stopping``). Choice made here: for those two ambiguous forms a printed
number equal to 0, or equal to the 0-based index of the epoch whose ``Epoch N/M`` header
precedes the message (i.e. N-1, which the +1 form can never print at that place: the message is
printed at the end of epoch N), is read as 0-based; every other printed number as ``epoch + 1``.

Fits: a new ``fit()`` starts at the first header, when ``M`` changes, when ``N`` does not follow
the previous header (restart or jump), or after an ``early stopping`` message. A resumed fit
(``initial_epoch``) continues the numbering with a new ``M`` (``Epoch 4/6`` after ``Epoch 3/3``).
A bar before any header (``fit(epochs=1)`` prints no header in TF 2.x and Keras 3) becomes a
fit of its own with epoch 0 when its final line holds metrics.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lraudit.numfmt import epoch_text
from lraudit.sources.base import (
    CallbackEvent,
    FitInfo,
    Source,
    SourceData,
    SourceFacts,
    format_location,
    scalars_frame,
)
from lraudit.sources.batch_exception import BatchHookRaise

KIND = "console"

#: bytes read per step; memory stays around this size whatever the file size
CHUNK_BYTES = 8 * 1024 * 1024
#: at most this many trailing bytes of a line are looked at (a final epoch line is far shorter)
_TAIL_BYTES = 64 * 1024
#: leading bytes of a line kept to see which bar (if any) starts on it
_HEAD_BYTES = 512

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_FULL_BLOCK_K3 = "\u2501".encode()  # '━', the only non-ASCII character Keras itself prints
_ASCII_BYTES = bytes(range(128))

_HEADER = re.compile(r"^\s*Epoch (\d+)/(\d+)\s*$")
_MESSAGE = re.compile(r"^\s*Epoch (\d+): (.*?)\s*$")
_RLR = re.compile(r"^(?:(ReduceLROnPlateau) )?reducing (?:(\S+) )?learning rate to (.+?)\.?$")
_LRS = re.compile(r"^LearningRateScheduler (reducing|setting) (?:(\S+) )?learning rate to (.+?)\.?$")
_EARLY = re.compile(r"^early stopping\b")
_MONITOR = re.compile(
    r"(Reduce LR on plateau|Learning rate reduction is|Early stopping) conditioned on metric "
    r"`([^`]*)` which is not available\. Available metrics are: ?(.*)$"
)
_MONITOR_OLD = re.compile(r"Learning Rate Plateau Reducing requires (\S+) available!")
_DECAY_IGNORED = re.compile(r"Argument `decay` is no longer supported and will be ignored")
_LR_ALIAS = re.compile(r"The `lr` argument is deprecated, use `learning_rate` instead")
_LR_IGNORED = re.compile(r"`lr` is deprecated(?:,| in (?:TF-)?Keras optimizer,) please use `learning_rate`")
_LR_REJECTED = re.compile(r"Argument\(s\) not recognized: \{.*'lr': ([^,}]+)")
_DECAY_REJECTED = re.compile(
    r"decay is deprecated in the new (?:TF-)?Keras optimizer.*?(?:legacy\.(\w+))?\.?$"
)
_TRAIN_ON = re.compile(r"^Train on (\d+) samples(?:, validate on (\d+) samples)?")
_SUMMARY = re.compile(r'^(?:Model: "[^"]*"\s*$|Model: \w+\s*$|Layer \(type\)\s+Output Shape)')
#: the HTML tags of a rich model summary pasted from Jupyter into Markdown (``<pre ...><span ...>Model: ...``)
_HTML_TAG = re.compile(r"<[^<>]*>")
_TUNER = re.compile(
    r"^(?:Search: Running Trial #\d+|Trial \d+ Complete\b|Trial complete$|Running [Tt]rial #?\d+)"
)
_BACKEND = re.compile(r"keras/(?:src/)?backend/(jax|torch|tensorflow|numpy|openvino)/")
_XLA_CLUSTER = re.compile(r"\bCompiled cluster using XLA\b")

# A bar segment: counter, then a Keras 2 bracket bar, a Keras 3 '━' bar, or nothing (unknown target).
_BAR = re.compile(r"^\s*(\d+)/(\d+|Unknown)\s*(\[[=>.]*\]|\u2501+)?\s*(.*)$")
# verbose=2 without a counter (standalone Keras): " - 5s - loss: ..."
_VERBOSE2_BARE = re.compile(r"^\s*(?:- )?\d+(?:\.\d+)?[mun]?s\b(.*)$")
_TIME_FIRST = re.compile(r"^-?\s*\d+(?:\.\d+)?[mun]?s\b")
_METRIC = re.compile(r"(?:^|\s)- ([^\s:]+): (\S+)")
_GLUED_NUMBER = re.compile(r"^([-+]?(?:\d+\.\d+(?:[eE][-+]?\d+)?|nan|inf))[A-Z]")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf)", re.IGNORECASE)

_SNIFF_MARKERS = re.compile(
    r"(?m)^\s*(?:Epoch \d+/\d+\s*$|\d+/(?:\d+|Unknown) (?:\[[=>.]*\]|\u2501)|\d+/\d+ - \d+m?s - "
    r"|Epoch \d+: (?:ReduceLROnPlateau|LearningRateScheduler|reducing learning rate|early stopping))"
    r"|conditioned on metric `|Argument `decay` is no longer supported|The `lr` argument is deprecated"
    r"|`lr` is deprecated|decay is deprecated in the new"
)


def sniff(prefix: bytes, path: Path) -> bool:
    """True when ``prefix`` holds Keras console output (headers, bars, callback messages).

    Markers must start a line (after ``\\r``/``\\n``/``\\b`` and ANSI codes), so a JSON or CSV
    file quoting such text is not taken for a console log; binary files (HDF5, zip, event
    files) are rejected by their magic bytes or their share of NUL bytes.
    """
    if prefix.startswith((b"\x89HDF", b"PK\x03\x04", b"\x1f\x8b")):
        return False
    if prefix.count(b"\x00") > len(prefix) // 100:
        return False
    text = _ANSI.sub("", prefix.decode("utf-8", errors="replace"))
    text = re.sub(r"[\r\x08]+", "\n", text)
    return _SNIFF_MARKERS.search(text) is not None


# --------------------------------------------------------------------------------------------
# line interpretation


@dataclass
class _BarLine:
    """A progress-bar or verbose=2 segment, parsed."""

    current: int | None
    target: int | None  # None: "Unknown" or no counter
    final: bool
    metrics: list[tuple[str, str]]
    style: str  # "bracket" | "block" | "verbose2" | "plain"
    era: str | None = None  # "k2" | "k3" when the look of the line tells


def _parse_bar(text: str) -> _BarLine | None:
    """Parse one ANSI-free segment as a bar/epoch line, or None when it is not one."""
    match = _BAR.match(text)
    if match is not None:
        current = int(match.group(1))
        target = None if match.group(2) == "Unknown" else int(match.group(2))
        bar, rest = match.group(3), match.group(4)
        if bar is None:
            if not rest.startswith("- ") and not _TIME_FIRST.match(rest):
                return None
            style = "verbose2" if _TIME_FIRST.match(rest.removeprefix("- ")) else "plain"
        else:
            style = "bracket" if bar.startswith("[") else "block"
        in_progress = rest.startswith(("- ETA:", "ETA:"))
        complete = target is None or current == target
        return _BarLine(
            current, target, complete and not in_progress, _metrics(rest), style, _era_hint(style, rest)
        )
    match = _VERBOSE2_BARE.match(text)
    if match is not None:
        metrics = _metrics(match.group(1))
        if not metrics and not text.lstrip().startswith("- "):
            return None  # "5s elapsed" is not an epoch line: without "- " it must carry metrics
        return _BarLine(None, None, True, metrics, "verbose2", "k2")
    return None


_K3_VERBOSE2 = re.compile(r"^- \d+(?:\.\d+)?[mun]?s - \d+(?:\.\d+)?[mun]?s/step\b")


def _era_hint(style: str, rest: str) -> str | None:
    """Which Keras generation a bar's look tells (§6.1), None when it does not."""
    if style == "bracket":
        return "k2"
    if style == "block":
        return "k3"
    if style == "verbose2":
        if _K3_VERBOSE2.match(rest):
            return "k3"  # Keras 3: "4/4 - 0s - 84ms/step - loss: ..."
        if "s/epoch" in rest:
            return "k2"  # keras 2.7 - tf-keras: "... - 666ms/epoch - 67ms/step"
    return None


def _metrics(rest: str) -> list[tuple[str, str]]:
    """The ``key: value`` pairs of an epoch line whose value is a number (ETA/times skipped)."""
    pairs = []
    for key, value in _METRIC.findall(" " + rest):
        if key == "ETA":
            continue
        if _NUMBER.fullmatch(value):
            pairs.append((key, value))
            continue
        # a callback's print glued to the bar's last value: "loss: 1.5270Epoch 1 completed in 80.51s"
        glued = _GLUED_NUMBER.match(value)
        if glued is not None:
            pairs.append((key, glued.group(1)))
    return pairs


def _printed_number(text: str) -> float | None:
    """The number in a printed value: ``0.001``, ``1e-07``, ``tf.Tensor(0.0009, shape=()...)``."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    numpy_field = re.search(r"numpy=([^,>)\s]+)", text)
    if numpy_field is not None:
        try:
            return float(numpy_field.group(1))
        except ValueError:
            pass
    inner = re.search(r"\(\s*(" + _NUMBER.pattern + r")\s*[,)]", text, re.IGNORECASE)
    if inner is not None:
        return float(inner.group(1))
    first = _NUMBER.search(text)
    return float(first.group(0)) if first is not None else None


def _segments(raw: bytes) -> bytes:
    """The last segment of a line: the text after its last ``\\r`` or ``\\b``."""
    raw = raw.rstrip(b"\r\x08 \t")
    cut = max(raw.rfind(b"\r"), raw.rfind(b"\x08"))
    return raw[cut + 1 :]


def _first_segment(raw: bytes) -> bytes:
    raw = raw.lstrip(b"\r\x08")
    ends = [i for i in (raw.find(b"\r"), raw.find(b"\x08")) if i >= 0]
    return raw[: min(ends)] if ends else raw


def _decode(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    return text.replace("\x00", "")


def _validation_echo(previous: _BarLine | None, line: _BarLine) -> bool:
    """True when ``line`` reports ``previous``'s metrics as ``val_*``: ``previous`` was the validation bar."""
    if previous is None or not previous.metrics:
        return False
    values = dict(line.metrics)
    return all(values.get("val_" + key) == text for key, text in previous.metrics)


def _batch_size(first_updates: set[int]) -> int | None:
    """The batch size shown by sample-count bars: their first update of an epoch is one batch."""
    if not first_updates:
        return None
    return math.gcd(*first_updates)


# --------------------------------------------------------------------------------------------
# reading state


@dataclass
class _EpochState:
    fit: int
    epoch: int
    line: int
    target: int | None = None
    last_current: int | None = None
    final: _BarLine | None = None
    final_line: int | None = None
    closed: bool = False
    first_seen: bool = False  # the epoch's first bar update was looked at (batch size evidence)
    closed_line: int | None = None  # the line whose new bar closed this epoch
    #: (batches that ran, evidence) when a batch callback's exception tells it (exact count)
    raised_after: tuple[int, str] | None = None


@dataclass
class _FitState:
    index: int
    first_epoch: int
    end_epoch: int | None
    line: int
    epochs: list[_EpochState] = field(default_factory=list)
    new_training: str | None = None
    start_markers: list[str] = field(default_factory=list)
    samples: int | None = None  # "Train on N samples": bars count samples
    validation_samples: int | None = None
    batch_sizes: set[int] = field(default_factory=set)  # first bar update of an epoch, sample bars


class _Reader:
    """Turns the lines of one console log into scalars, events and fits."""

    def __init__(
        self, path: Path, where: Callable[[int], tuple[str, int]] | None = None, kind: str = KIND
    ) -> None:
        self.path = path
        self.name = str(path)
        self.kind = kind
        # maps the reader's running line number to (file label, line) for rows and messages
        self.where = where or (lambda number: (self.name, number))
        self.fits: list[_FitState] = []
        self.epoch: _EpochState | None = None  # the epoch whose header came last
        self.prelude: _EpochState | None = None  # a bar seen before any header
        self.fit_ended = False  # an early-stopping message closed the current fit
        self.events: list[CallbackEvent] = []
        self.pending_begin: list[CallbackEvent] = []  # LearningRateScheduler messages before a header
        self.evidence: Counter[str] = Counter()
        self.backends: set[str] = set()
        self.xla_compiled = False  # TensorFlow said it compiled a cluster with XLA
        self.warnings: list[str] = []
        # fit-start evidence seen since the last fit began: (reason with location, strong?)
        self.pending_markers: list[tuple[str, bool]] = []
        self.force_new_fit = False  # a "Train on" header or a strong marker: the next header starts a fit
        self.pending_samples: tuple[int, int | None] | None = None
        self._header_line = 0
        self._batch_raise = BatchHookRaise()  # a batch callback's traceback: how far the epoch got
        # a script prints a summary for the model it is about to train; a notebook user calls
        # summary() on a trained model too, so there only compile() tells a new optimizer
        self.summary_is_new_model = True

    # ---- per line ---------------------------------------------------------------------------

    def line(self, number: int, head: bytes, tail: bytes, tail_complete: bool) -> None:
        """Interpret one ``\\n``-terminated line from its first bytes and last bytes."""
        raw = _segments(tail)
        if not raw:
            return
        if not tail_complete and len(raw) == len(tail.rstrip(b"\r\x08 \t")):
            return  # a single segment longer than the tail window: not Keras output
        text = _decode(raw).strip()
        if not text:
            return
        state = self.epoch if self.epoch is not None else self.prelude
        if state is not None and not state.closed and (
            state.final is not None or state.last_current is not None
        ):
            self._check_restart(state, head, number)
        if self.epoch is not None and not self.epoch.first_seen:
            self._first_update(self.epoch, head)
        if text.startswith("Epoch "):
            header = _HEADER.match(text)
            if header is not None:
                self._header(number, int(header.group(1)), int(header.group(2)))
                return
            message = _MESSAGE.match(text)
            if message is not None:
                self._message(number, int(message.group(1)), message.group(2), text)
                return
        bar = _parse_bar(text)
        if bar is not None:
            self._bar(number, bar)
            return
        self._traceback_line(number, text)
        self._warning(number, text)

    def _traceback_line(self, number: int, text: str) -> None:
        """A traceback of a batch callback that names its batch: how far the cut epoch got."""
        raised = self._batch_raise.line(text)
        if raised is not None and self.epoch is not None and self.epoch.final is None:
            self.epoch.raised_after = (raised[0], f"{raised[1]} ({self._location(number)})")

    def _first_update(self, state: _EpochState, head: bytes) -> None:
        """A sample-count bar's first update of an epoch counts one batch: the batch size."""
        fit = self.fits[state.fit] if 0 <= state.fit < len(self.fits) else None
        if fit is None or fit.samples is None:
            state.first_seen = True
            return
        first = _parse_bar(_decode(_first_segment(head)).strip())
        if first is None or first.current is None:
            return
        state.first_seen = True
        if first.target == fit.samples and 0 < first.current < first.target:
            fit.batch_sizes.add(first.current)

    def _check_restart(self, state: _EpochState, head: bytes, number: int) -> None:
        first = _parse_bar(_decode(_first_segment(head)).strip())
        if first is None or first.current is None:
            return
        if first.target != state.target or (
            state.last_current is not None and first.current < state.last_current
        ):
            # a new bar (evaluate/predict, or a fit without header) began; _bar may reopen the
            # epoch when this line turns out to be its training line (fit_generator validation)
            state.closed = True
            state.closed_line = number

    def _bar(self, number: int, bar: _BarLine) -> None:
        if bar.era is not None:
            self.evidence[bar.era] += 1
        state = self.epoch
        if state is None:
            if self.prelude is None or self.prelude.closed:
                if not (bar.final and bar.metrics):
                    if self.prelude is None:
                        self.prelude = _EpochState(fit=-1, epoch=0, line=number)
                        self.prelude.target = bar.target
                        self.prelude.last_current = bar.current
                    return
                self.prelude = _EpochState(fit=-1, epoch=0, line=number, target=bar.target)
            state = self.prelude
        if state.closed:
            if not (state.closed_line == number and bar.final and _validation_echo(state.final, bar)):
                return
            # fit_generator (Keras 2.1-2.2, TF 1.x) drew the validation bar before the epoch's
            # line: that line repeats the validation values as val_*; it is the epoch's line
            state.closed = False
            state.target = bar.target
        if state.target is None and bar.current is not None:
            state.target = bar.target
        if bar.current is not None:
            state.last_current = bar.current
        if bar.final:
            state.final, state.final_line = bar, number
            # the lr key is the one the era's callbacks write (Keras 2 ``lr``, Keras 3
            # ``learning_rate``), but a callback of the user's may write either: weak evidence,
            # outweighed by the bar's glyphs and the era's console messages
            for key, _ in bar.metrics:
                if key == "lr":
                    self.evidence["k2_weak"] += 1
                elif key.startswith("learning_rate"):
                    self.evidence["k3_weak"] += 1

    # ---- headers and fits ---------------------------------------------------------------------

    def _header(self, number: int, printed: int, total: int) -> None:
        epoch = printed - 1
        self._header_line = number
        self._close_prelude()
        current_fit = self.fits[-1] if self.fits else None
        previous = self.epoch
        if self._repeated_header(previous, epoch, total):
            return
        if self._continues_headless_start(current_fit, previous, epoch, total):
            return
        new_fit = (
            current_fit is None
            or self.fit_ended
            or self.force_new_fit
            or current_fit.end_epoch != total
            or previous is None
            or epoch != previous.epoch + 1
        )
        if new_fit:
            restarted = epoch == 0 and any(fit.epochs for fit in self.fits)
            current_fit = _FitState(len(self.fits), epoch, total, number)
            self._start_fit(current_fit, number, restarted)
        self.epoch = _EpochState(fit=current_fit.index, epoch=epoch, line=number)
        current_fit.epochs.append(self.epoch)
        for event in self.pending_begin:
            event.fit = current_fit.index if event.epoch == epoch else (previous.fit if previous else None)
        self.pending_begin.clear()

    def _continues_headless_start(
        self, fit: _FitState | None, previous: _EpochState | None, epoch: int, total: int
    ) -> bool:
        """A log pasted from the middle of epoch 1 (bar, no header) then ``Epoch 2/M``: one fit."""
        if fit is None or fit.index != 0 or previous is not None or fit.end_epoch is not None:
            return False
        if self.force_new_fit or self.fit_ended or not fit.epochs or fit.epochs[-1].epoch + 1 != epoch:
            return False
        fit.end_epoch = total
        self.epoch = _EpochState(fit=fit.index, epoch=epoch, line=self._header_line)
        fit.epochs.append(self.epoch)
        return True

    def _repeated_header(self, previous: _EpochState | None, epoch: int, total: int) -> bool:
        """A header printed twice in a row (a custom callback echoing Keras's): the same epoch."""
        if previous is None or previous.epoch != epoch or self.force_new_fit or self.fit_ended:
            return False
        fit = self.fits[previous.fit] if 0 <= previous.fit < len(self.fits) else None
        return (
            fit is not None
            and fit.end_epoch == total
            and previous.final is None
            and previous.last_current is None
        )

    def _start_fit(self, fit: _FitState, number: int, restarted: bool) -> None:
        """Begin ``fit``, attaching the fit-start markers seen since the previous one."""
        if restarted:
            total = fit.end_epoch if fit.end_epoch is not None else "?"
            self.pending_markers.append(
                (f"epoch numbering restarts at Epoch 1/{total} ({self._location(number)})", False)
            )
        fit.start_markers = [reason for reason, _ in self.pending_markers]
        strong = [reason for reason, is_strong in self.pending_markers if is_strong]
        fit.new_training = "; ".join(strong) if strong else None
        if self.pending_samples is not None:
            fit.samples, fit.validation_samples = self.pending_samples
        self.pending_markers = []
        self.pending_samples = None
        self.force_new_fit = False
        self.fit_ended = False
        self.fits.append(fit)

    def mark_new_training(self, reason: str) -> None:
        """What comes next is a new training (new model or optimizer): the next header starts a fit."""
        self._add_marker(reason, strong=True)

    def _add_marker(self, reason: str, strong: bool) -> None:
        kind = reason.split(" (")[0].split(" in ")[0]
        if any(existing.startswith(kind) for existing, _ in self.pending_markers):
            return  # one summary/trial/compile is enough per fit (a summary has several telling lines)
        self.pending_markers.append((reason, strong))
        self.force_new_fit = True

    def _close_prelude(self) -> None:
        """A bar seen before any header: a fit(epochs=1) (no header printed) when it has logs."""
        prelude = self.prelude
        self.prelude = None
        if prelude is None or prelude.final is None or not prelude.final.metrics:
            return
        fit = _FitState(len(self.fits), 0, None, prelude.line)
        prelude.fit = fit.index
        fit.epochs.append(prelude)
        self._start_fit(fit, prelude.line, restarted=False)

    # ---- messages and warnings ----------------------------------------------------------------

    def _location(self, number: int) -> str:
        return format_location(*self.where(number))

    def _context(self) -> tuple[int | None, int | None]:
        if self.epoch is None:
            return None, None
        return self.epoch.fit, self.epoch.epoch

    def _message(self, number: int, printed: int, body: str, text: str) -> None:
        fit, context_epoch = self._context()
        padded = re.match(r"^\s*Epoch 0\d{4}:", text) is not None
        if padded:
            self.evidence["k2"] += 1

        def ambiguous_epoch() -> int:
            # M1 / early stopping before Keras 2.0.9 printed the 0-based epoch (module docstring)
            if padded and (printed == 0 or printed == context_epoch):
                return printed
            return printed - 1

        scheduler = _LRS.match(body)
        if scheduler is not None:
            value_text = scheduler.group(3).strip()
            event = CallbackEvent(
                kind="scheduler_set",
                epoch=printed - 1,
                value=_printed_number(value_text),
                text=value_text,
                location=self._location(number),
                callback="LearningRateScheduler",
                fit=fit,
                detail={"word": scheduler.group(1), "message": text.strip()}
                | ({"optimizer": scheduler.group(2)} if scheduler.group(2) else {}),
            )
            self.events.append(event)
            self.pending_begin.append(event)
            return
        plateau = _RLR.match(body)
        if plateau is not None:
            value_text = plateau.group(3).strip()
            named = plateau.group(1) is not None
            epoch = printed - 1 if named else ambiguous_epoch()
            detail = {"message": text.strip(), "format": "named" if named else "unnamed"}
            if plateau.group(2):
                detail["optimizer"] = plateau.group(2)
            self.events.append(
                CallbackEvent(
                    kind="plateau_reduction",
                    epoch=epoch,
                    value=_printed_number(value_text),
                    text=value_text,
                    location=self._location(number),
                    callback="ReduceLROnPlateau",
                    fit=fit,
                    detail=detail,
                )
            )
            return
        if _EARLY.match(body):
            epoch = ambiguous_epoch()
            self.events.append(
                CallbackEvent(
                    kind="early_stopping",
                    epoch=epoch,
                    value=None,
                    text=text.strip(),
                    location=self._location(number),
                    callback="EarlyStopping",
                    fit=fit,
                )
            )
            self.fit_ended = True

    def _fit_start_text(self, number: int, text: str) -> bool:
        """``Train on N samples``, a model summary, a KerasTuner trial line: recorded, True when one."""
        train_on = _TRAIN_ON.match(text)
        if train_on is not None:
            samples = int(train_on.group(1))
            validation = int(train_on.group(2)) if train_on.group(2) else None
            self.pending_samples = (samples, validation)
            self.pending_markers.append((f"{text} ({self._location(number)})", False))
            self.force_new_fit = True
            return True
        if _SUMMARY.match(_HTML_TAG.sub("", text) if text.startswith("<") else text):
            self._add_marker(f"model summary ({self._location(number)})", strong=self.summary_is_new_model)
            return True
        if _TUNER.match(text):
            self._add_marker(f"KerasTuner trial ({self._location(number)}: {text[:60]})", strong=True)
            return True
        return False

    def _warning(self, number: int, text: str) -> None:
        if self._fit_start_text(number, text):
            return
        for match in _BACKEND.finditer(text):
            self.backends.add(match.group(1))
        if _XLA_CLUSTER.search(text):
            self.xla_compiled = True
            self.backends.add("tensorflow")
        if "keras/src/backend/" in text or "keras/src/trainers/" in text or "base_optimizer.py" in text:
            self.evidence["k3_weak"] += 1
        if "WARNING:tensorflow" in text or "optimizers/legacy" in text or "tf_keras" in text:
            self.evidence["k2_weak"] += 1
        fit, epoch = self._context()
        location = self._location(number)
        monitor = _MONITOR.search(text)
        old_monitor = _MONITOR_OLD.search(text) if monitor is None else None
        if monitor is not None or old_monitor is not None:
            if monitor is not None:
                callback = "EarlyStopping" if monitor.group(1) == "Early stopping" else "ReduceLROnPlateau"
                name = monitor.group(2)
                available = [k.strip() for k in monitor.group(3).strip().rstrip(".").split(",") if k.strip()]
                if monitor.group(1) == "Learning rate reduction is" and "WARNING:tensorflow" in text:
                    self.evidence["k2"] += 1
            else:
                callback, name, available = "ReduceLROnPlateau", old_monitor.group(1), []
            self.events.append(
                CallbackEvent(
                    kind="monitor_missing",
                    epoch=epoch,
                    value=None,
                    text=text,
                    location=location,
                    callback=callback,
                    fit=fit,
                    detail={"callback": callback, "monitor": name, "available": available},
                )
            )
            return
        if _DECAY_IGNORED.search(text):
            self.evidence["k3"] += 1
            self._simple("decay_ignored", text, location, fit, {})
            return
        decay_rejected = _DECAY_REJECTED.search(text)
        if decay_rejected is not None:
            self.evidence["k2"] += 1
            detail = {"optimizer": decay_rejected.group(1)} if decay_rejected.group(1) else {}
            self._simple("decay_rejected", text, location, fit, detail)
            return
        if _LR_ALIAS.search(text):
            self.evidence["k2"] += 1
            self._simple("lr_deprecated", text, location, fit, {"effect": "alias"})
            return
        if _LR_IGNORED.search(text):
            self.evidence["k2"] += 1
            self._simple("lr_deprecated", text, location, fit, {"effect": "ignored"})
            return
        rejected = _LR_REJECTED.search(text)
        if rejected is not None:
            self.evidence["k3"] += 1
            self._simple(
                "lr_deprecated",
                text,
                location,
                fit,
                {"effect": "rejected"},
                _printed_number(rejected.group(1)),
            )

    def _simple(
        self, kind: str, text: str, location: str, fit: int | None, detail: dict, value: float | None = None
    ) -> None:
        self.events.append(
            CallbackEvent(
                kind=kind, epoch=None, value=value, text=text, location=location, fit=fit, detail=detail
            )
        )

    # ---- result -------------------------------------------------------------------------------

    def result(self) -> SourceData:
        self._close_prelude()
        fallback_fit = self.epoch.fit if self.epoch is not None else None
        for event in self.pending_begin:
            event.fit = fallback_fit
        rows: list[tuple] = []
        fits: list[FitInfo] = []
        steps_seen: set[int] = set()
        for fit in self.fits:
            info = self._fit_info(fit, rows)
            if info.steps_per_epoch is not None:
                steps_seen.add(info.steps_per_epoch)
            fits.append(info)
        steps_per_epoch = None
        if len(steps_seen) == 1:
            steps_per_epoch = next(iter(steps_seen))
        elif len(steps_seen) > 1:
            self.warnings.append(f"{self.name}: fits disagree on steps per epoch: {sorted(steps_seen)}")
        return SourceData(
            path=self.name,
            kind=self.kind,
            scalars=scalars_frame(rows),
            events=self.events,
            fits=fits,
            steps_per_epoch=steps_per_epoch,
            keras=self._keras(),
            backend=next(iter(self.backends)) if len(self.backends) == 1 else None,
            compile_config={"xla_compiled": True} if self.xla_compiled else {},
            warnings=self.warnings,
        )

    def _fit_info(self, fit: _FitState, rows: list[tuple]) -> FitInfo:
        """One fit's FitInfo; its epochs' metrics are appended to ``rows``."""
        steps: Counter[int] = Counter()
        sample_counts = {fit.samples, fit.validation_samples} - {None}
        for state in fit.epochs:
            bar = state.final
            if bar is None:
                self.warnings.append(
                    f"{self._location(state.line)}: {epoch_text(state.epoch)} has no final progress line "
                    "(interrupted, truncated or verbose=0)"
                )
                continue
            # a bar counting samples ("Train on N samples") says nothing about steps by itself
            if bar.current is not None and not (sample_counts and bar.target in sample_counts):
                steps[bar.target if bar.target is not None else bar.current] += 1
            row_file, row_line = self.where(state.final_line)
            for key, value_text in bar.metrics:
                rows.append(
                    (
                        "console", row_file, row_line, key, state.epoch, None, fit.index,
                        float(value_text), value_text,
                    )
                )
        batch = _batch_size(fit.batch_sizes)
        if fit.samples is not None and batch is not None and not steps:
            steps[-(-fit.samples // batch)] += 1
        fit_steps = steps.most_common(1)[0][0] if steps else None
        if len(steps) > 1:
            self.warnings.append(
                f"{self._location(fit.line)}: fit {fit.index} shows different step counts {sorted(steps)}"
            )
        seen = [state.epoch for state in fit.epochs]
        # "Epoch N/M" names the epochs asked for; a fit stopped early (EarlyStopping,
        # stop_training) never prints the epochs after the one it stopped in.
        last_seen = max(seen) + 1 if seen else None
        if fit.end_epoch is None:
            end = last_seen if last_seen is not None else fit.first_epoch
        else:
            end = min(fit.end_epoch, last_seen) if last_seen is not None else fit.end_epoch
        return FitInfo(
            index=fit.index,
            first_epoch=fit.first_epoch,
            end_epoch=end,
            epochs_seen=seen,
            steps_per_epoch=fit_steps,
            location=self._location(fit.line),
            new_training=fit.new_training,
            start_markers=list(fit.start_markers),
            samples=fit.samples,
            validation_samples=fit.validation_samples,
            last_epoch_steps=self._last_epoch_steps(fit, batch),
            last_epoch_evidence=self._last_epoch_evidence(fit),
        )

    @staticmethod
    def _last_epoch_evidence(fit: _FitState) -> str | None:
        """What tells the steps of a cut last epoch: an exception's batch (exact) or the bar."""
        last = fit.epochs[-1] if fit.epochs else None
        if last is None or last.final is not None:
            return None
        if last.raised_after is not None and last.raised_after[0] >= (last.last_current or 0):
            return last.raised_after[1]
        if last.last_current is None:
            return "no progress bar was drawn for it (a lower bound: batches may have run)"
        return (
            f"its progress bar was last drawn at {last.last_current}/{last.target} (a lower bound: "
            "Keras redraws the bar at most every 50 ms, so more batches may have run)"
        )

    def _last_epoch_steps(self, fit: _FitState, batch: int | None) -> int | None:
        """Steps the fit's last epoch ran when its bar never completed (None when it did)."""
        if not fit.epochs:
            return None
        last = fit.epochs[-1]
        if last.final is not None:
            return None
        if last.raised_after is not None and last.raised_after[0] >= (last.last_current or 0):
            return last.raised_after[0]
        if last.last_current is None:
            return 0 if last is not fit.epochs[0] or fit.index > 0 else None
        if fit.samples is not None and last.target == fit.samples:
            if batch is None:
                self.warnings.append(
                    f"{self._location(last.line)}: {epoch_text(last.epoch)} stopped at sample "
                    f"{last.last_current} "
                    "of a sample-count bar; the batch size is not shown, so its steps are unknown"
                )
                return None
            return -(-last.last_current // batch)
        return last.last_current

    def _keras(self) -> str | None:
        for strong in (True, False):
            suffix = "" if strong else "_weak"
            k2, k3 = self.evidence["k2" + suffix], self.evidence["k3" + suffix]
            if k2 and k3:
                self.warnings.append(
                    f"{self.name}: mixed Keras 2 and Keras 3 evidence ({k2} vs {k3}); generation left unknown"
                )
                return None
            if k2:
                return "2"
            if k3:
                return "3"
        return None


# --------------------------------------------------------------------------------------------
# streaming


class _Utf8Check:
    """Validates UTF-8 chunk by chunk; cheap for ASCII and Keras 3 bars (ASCII + '━')."""

    def __init__(self) -> None:
        self.pending = b""
        self.offset = 0  # file offset of ``pending``
        self.bad_at: int | None = None

    def feed(self, chunk: bytes, final: bool = False) -> None:
        if self.bad_at is not None:
            return
        data = self.pending + chunk if self.pending else chunk
        cut = len(data)
        if not final:
            for back in range(1, min(4, len(data)) + 1):
                byte = data[-back]
                if byte < 0x80:
                    break
                if byte >= 0xC0:
                    need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
                    if need > back:
                        cut = len(data) - back
                    break
        body = data[:cut] if cut < len(data) else data
        if not body.isascii() and not self._ascii_and_blocks(body):
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as error:
                self.bad_at = self.offset + error.start
        self.offset += len(body)
        self.pending = data[cut:]

    @staticmethod
    def _ascii_and_blocks(body: bytes) -> bool:
        """True when the non-ASCII bytes of ``body`` are only '━' sequences (Keras 3 bars).

        Deleting the ASCII bytes (``translate``) is several times faster than decoding. It would
        miss a '━' split by ASCII bytes whose pieces happen to rejoin; such a file still decodes
        (with replacement) wherever text is used, only the warning would be missing.
        """
        rest = body.translate(None, _ASCII_BYTES)
        return len(rest) % 3 == 0 and rest == _FULL_BLOCK_K3 * (len(rest) // 3)


class ConsoleText:
    """The console parser fed with text pieces instead of a file (a notebook's cell outputs).

    Lines are numbered consecutively across :meth:`feed` calls (1-based); ``where`` maps that
    number to the ``(file label, line)`` every row and message carries, so a caller that
    concatenates several texts (cells) can name each piece's own lines.
    """

    def __init__(
        self,
        name: str,
        where: Callable[[int], tuple[str, int]] | None = None,
        kind: str = KIND,
        summary_is_new_model: bool = True,
    ) -> None:
        self._reader = _Reader(Path(name), where, kind)
        self._reader.summary_is_new_model = summary_is_new_model
        self.next_line = 1

    def feed(self, text: str) -> int:
        """Parse ``text`` as whole lines (a missing final newline ends the last one).

        Returns the running number of its first line.
        """
        first = self.next_line
        if not text:
            return first
        data = text.encode("utf-8", errors="replace")
        start = 0
        while start <= len(data):
            newline = data.find(b"\n", start)
            end = len(data) if newline < 0 else newline
            if newline >= 0 or end > start:
                line = data[start:end]
                complete = len(line) <= _TAIL_BYTES
                self._reader.line(self.next_line, line[:_HEAD_BYTES], line[-_TAIL_BYTES:], complete)
                self.next_line += 1
            if newline < 0:
                break
            start = newline + 1
        return first

    def end_block(self) -> None:
        """The text fed so far ended a separate run of output (a notebook cell): no bar after it
        belongs to the epoch in progress (an ``evaluate()`` in a later cell is not that epoch's end)."""
        for state in (self._reader.epoch, self._reader.prelude):
            if state is not None:
                state.closed = True

    def mark_new_training(self, reason: str) -> None:
        """Record that whatever fit starts next begins a new training (e.g. ``compile()`` ran in between)."""
        self._reader.mark_new_training(reason)

    @property
    def warnings(self) -> list[str]:
        """The parser's warnings so far (a caller may add its own)."""
        return self._reader.warnings

    def result(self) -> SourceData:
        """Everything read, as the console source returns it (with the ``kind`` given)."""
        return self._reader.result()


def read(path: Path) -> SourceData:
    """Read a console log in bounded memory; never raises on bad content (warnings instead)."""
    path = Path(path)
    reader = _Reader(path)
    utf8 = _Utf8Check()
    nul_bytes = 0
    line_number = 1
    # the line still open at the end of the previous chunk: its head and its last bytes
    open_head = b""
    open_tail = b""
    open_length = 0
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed in the finally block below
    except OSError as error:
        return SourceData(path=str(path), kind=KIND, scalars=scalars_frame([]), warnings=[f"{path}: {error}"])
    try:
        while True:
            chunk = handle.read(CHUNK_BYTES)
            if not chunk:
                break
            utf8.feed(chunk)
            if chunk.find(b"\x00") >= 0:
                nul_bytes += chunk.count(b"\x00")
            start = 0
            while True:
                newline = chunk.find(b"\n", start)
                if newline < 0:
                    break
                if open_length:
                    head = (open_head + chunk[: min(newline, _HEAD_BYTES)])[:_HEAD_BYTES]
                    tail = (open_tail + chunk[max(0, newline - _TAIL_BYTES) : newline])[-_TAIL_BYTES:]
                    length = open_length + newline
                    open_head, open_tail, open_length = b"", b"", 0
                else:
                    head = chunk[start : min(newline, start + _HEAD_BYTES)]
                    tail = chunk[max(start, newline - _TAIL_BYTES) : newline]
                    length = newline - start
                reader.line(line_number, head, tail, length <= _TAIL_BYTES)
                line_number += 1
                start = newline + 1
            rest = chunk[start:]
            if rest:
                if len(open_head) < _HEAD_BYTES:
                    open_head = (open_head + rest[:_HEAD_BYTES])[:_HEAD_BYTES]
                open_tail = (open_tail + rest[-_TAIL_BYTES:])[-_TAIL_BYTES:]
                open_length += len(rest)
    except OSError as error:
        reader.warnings.append(f"{path}: read failed ({error}); kept what was read")
    finally:
        handle.close()
    utf8.feed(b"", final=True)
    if open_length:
        reader.line(line_number, open_head, open_tail, open_length <= _TAIL_BYTES)
        reader.warnings.append(f"{path}:{line_number}: file ends in the middle of a line (truncated?)")
    if utf8.bad_at is not None:
        reader.warnings.insert(
            0, f"{path}: file is not valid UTF-8 at byte {utf8.bad_at}; decoded with replacement"
        )
    if nul_bytes:
        reader.warnings.append(f"{path}: {nul_bytes} NUL bytes (binary data) ignored")
    data = reader.result()
    if line_number == 1 and not open_length:
        data.warnings.append(f"{path}: empty file")
    return data



class ConsoleSource(Source):
    """The registered face of this module (see :mod:`lraudit.sources.registry`)."""

    facts = SourceFacts(
        kind=KIND,
        label="console output",
        tells=frozenset({"lr", "metrics", "steps_per_epoch", "callback_events", "backend"}),
        epoch_values="rounded-text",  # the progress bar prints a few digits ("lr: 1.0000e-03")
        epoch_numbering="1-based",  # "Epoch N/M"
        names="keras-keys",
        located_by="line",
        value_rank=4,  # the rounded bar last (3 is a callback's own message)
        fit_rank=0,  # "Epoch N/M" headers tell every fit() and its epochs argument
        hint_rank=2,
        several_trainings=True,  # a sweep log, a pipe of several scripts
    )
    sniff = staticmethod(sniff)
    read = staticmethod(read)

__all__ = ["CHUNK_BYTES", "KIND", "ConsoleSource", "ConsoleText", "read", "sniff"]
