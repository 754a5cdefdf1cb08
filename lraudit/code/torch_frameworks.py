"""Hugging Face ``Trainer`` and Lightning code, read statically for :mod:`lraudit.code.torch_reader`.

HF: ``TrainingArguments(...)`` arguments, the ``Trainer``'s ``train_dataset`` size and explicit
``optimizers=(opt, sched)``. Lightning: ``configure_optimizers`` of a ``LightningModule`` (with
``self.hparams.x`` resolved from ``__init__`` defaults or the arguments the module is built with),
its returned ``lr_scheduler`` dict, ``Trainer(...)`` arguments, ``LearningRateMonitor(...)`` and the
training DataLoader's size.
"""

from __future__ import annotations

import ast
from typing import Any

from lraudit.code.model import CodeCell
from lraudit.code.torch_env import Bound, ceil_div
from lraudit.code.values import NotConstant
from lraudit.torchfacts import TorchFacts, Unevaluated

_HF_ROOTS = ("transformers", "trl", "setfit", "sentence_transformers")
_LIGHTNING_ROOTS = ("lightning", "pytorch_lightning", "lightning.pytorch")
#: TrainingArguments defaults the step count depends on
_HF_BATCH_DEFAULT = 8


class FrameworkReader:
    """The Trainer/Lightning part of a :class:`_TorchReader`'s walk."""

    def __init__(self, reader: Any) -> None:  # the torch_reader walk (no import: no cycle)
        self.reader = reader
        self.env = reader.env
        self.training_args: dict[str, Any] = {}
        self.training_args_location: str | None = None
        self.hf_trainer: str | None = None
        self.hf_rows: int | None = None
        self.hf_rows_evidence: str | None = None
        self.lightning_modules: dict[str, tuple[ast.ClassDef, CodeCell]] = {}
        self.lightning_trainer: dict[str, Any] | None = None
        self.lightning_trainer_location: str | None = None
        self.scheduler_config: dict[str, Any] = {}
        self.lr_monitor: dict[str, Any] | None = None
        self.fit_loader: Bound | None = None
        self._module_entries: tuple[int, int] | None = None

    # ------------------------------------------------------------------ classes
    def class_defined(self, node: ast.ClassDef, cell: CodeCell) -> None:
        bases = [self.env.resolve(ast.unparse(base)) for base in node.bases]
        if any(base.endswith("LightningModule") or base in self.lightning_modules for base in bases):
            self.lightning_modules[node.name] = (node, cell)
            self._read_module(node, cell, None)

    def _read_module(self, node: ast.ClassDef, cell: CodeCell, call: ast.Call | None) -> None:
        """Read ``configure_optimizers`` with ``self.hparams.*`` bound (replacing an earlier reading)."""
        methods = {item.name: item for item in node.body if isinstance(item, ast.FunctionDef)}
        init, configure = methods.get("__init__"), methods.get("configure_optimizers")
        if configure is None:
            return
        if init is not None:
            self._bind_hparams(init, call)
        if self._module_entries is not None:  # built again with other arguments: forget the first reading
            optimizers, schedulers = self._module_entries
            del self.reader.optimizers[optimizers:]
            del self.reader.schedulers[schedulers:]
        self._module_entries = (len(self.reader.optimizers), len(self.reader.schedulers))
        self.reader.walk(configure.body, cell, conditional=False)
        for stmt in ast.walk(configure):
            if isinstance(stmt, ast.Return) and stmt.value is not None:
                self._returned(stmt.value)
        train_loader = methods.get("train_dataloader")
        if train_loader is not None:
            for stmt in ast.walk(train_loader):
                if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Call):
                    bound = self.reader.call(stmt.value, cell, None)
                    if bound is not None and bound.kind == "loader":
                        self.fit_loader = bound

    def _bind_hparams(self, init: ast.FunctionDef, call: ast.Call | None) -> None:
        params = [arg.arg for arg in init.args.args][1:]
        values: dict[str, ast.expr] = dict(
            zip(params[len(params) - len(init.args.defaults) :], init.args.defaults, strict=True)
        )
        if call is not None:
            values.update(zip(params, call.args, strict=False))
            values.update({kw.arg: kw.value for kw in call.keywords if kw.arg})
        attributes = {
            stmt.targets[0].attr: stmt.value.id
            for stmt in ast.walk(init)
            if isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Attribute)
            and isinstance(stmt.value, ast.Name)
        }
        for name, node in values.items():
            location = "" if node is None else f"line {node.lineno}"
            for key in (f"self.hparams.{name}", f"self.hparams[{name!r}]", f"self.hparams_{name}"):
                self.env.bind_constant(key, node, location)
            for attribute, source in attributes.items():
                if source == name:
                    self.env.bind_constant(f"self.{attribute}", node, location)

    def _returned(self, value: ast.expr) -> None:
        """The ``lr_scheduler`` dict (interval, frequency, monitor) of configure_optimizers' return."""
        for node in ast.walk(value):
            if not isinstance(node, ast.Dict):
                continue
            entries = {
                key.value: item
                for key, item in zip(node.keys, node.values, strict=True)
                if isinstance(key, ast.Constant)
            }
            if "scheduler" in entries or "monitor" in entries:
                for key in ("interval", "frequency", "monitor", "name", "strict"):
                    if key in entries:
                        self.scheduler_config[key] = self.env.value(entries[key])

    # ------------------------------------------------------------------ calls
    def call(
        self, call: ast.Call, canonical: str, last: str, location: str, variable: str | None, cell: CodeCell
    ) -> Bound | bool | None:
        """Handle a framework call; False when ``call`` is none of them."""
        root = canonical.split(".")[0]
        is_args = last.endswith("TrainingArguments") or (root == "trl" and last.endswith("Config"))
        if is_args and (root in _HF_ROOTS or canonical == last):
            self.training_args = {kw.arg: self.env.value(kw.value) for kw in call.keywords if kw.arg}
            self.training_args_location = location
            return Bound("training_args", location=location)
        if last.endswith("Trainer") and root in _HF_ROOTS:
            self._hf_trainer(call, location, cell)
            return Bound("hf_trainer", location=location)
        if last == "Trainer" and (root in _LIGHTNING_ROOTS or canonical.startswith(_LIGHTNING_ROOTS)):
            self.lightning_trainer = {kw.arg: self.env.value(kw.value) for kw in call.keywords if kw.arg}
            self.lightning_trainer_location = location
            for kw in call.keywords:
                self.reader.expression(kw.value, cell)
            return Bound("lightning_trainer", location=location)
        if last == "LearningRateMonitor":
            self.lr_monitor = {kw.arg: self.env.value(kw.value) for kw in call.keywords if kw.arg}
            if call.args:
                self.lr_monitor["logging_interval"] = self.env.value(call.args[0])
            return Bound("lr_monitor", location=location)
        if last in self.lightning_modules and (call.args or call.keywords):
            node, module_cell = self.lightning_modules[last]
            self._read_module(node, module_cell, call)
            return Bound("lightning_module", location=location)
        if last in ("fit", "train") and isinstance(call.func, ast.Attribute):
            self._fit(call, location, cell)
        return False

    def _hf_trainer(self, call: ast.Call, location: str, cell: CodeCell) -> None:
        self.hf_trainer = location
        keywords = {kw.arg: kw.value for kw in call.keywords if kw.arg}
        for node in keywords.values():
            self.reader.expression(node, cell)
        dataset = keywords.get("train_dataset")
        if dataset is not None:
            rows = self.env.rows_of(dataset)
            if rows is not None:
                self.hf_rows = rows
                self.hf_rows_evidence = f"train_dataset {ast.unparse(dataset)} has {rows} rows ({location})"
        optimizers = keywords.get("optimizers")
        if isinstance(optimizers, ast.Tuple) and len(optimizers.elts) == 2:
            for item in optimizers.elts:
                if isinstance(item, ast.Call):
                    self.reader.call(item, cell, None)

    def _fit(self, call: ast.Call, location: str, cell: CodeCell) -> None:
        keywords = {kw.arg: kw.value for kw in call.keywords if kw.arg}
        for item in [*call.args, *keywords.values()]:
            if isinstance(item, ast.Call):
                self.reader.call(item, cell, None)
        for key in ("ckpt_path", "resume_from_checkpoint"):
            if key in keywords and not (
                isinstance(keywords[key], ast.Constant) and keywords[key].value is None
            ):
                self.reader.resume.update(
                    {"location": location, "loads_scheduler": True, "loads_optimizer": True}
                )
        loader = (
            keywords.get("train_dataloaders")
            or keywords.get("train_dataloader")
            or (call.args[1] if len(call.args) > 1 else None)
        )
        bound = self.env.bound(loader, "loader") if loader is not None else None
        if bound is None and isinstance(loader, ast.Call):
            bound = self.reader.call(loader, cell, None)
        if bound is not None and bound.kind == "loader":
            self.fit_loader = bound

    # ------------------------------------------------------------------ results
    def framework(self) -> str | None:
        if self.hf_trainer or self.training_args:
            return "transformers"
        if self.lightning_modules or self.lightning_trainer is not None:
            return "lightning"
        return None

    def fill(self, facts: TorchFacts) -> None:
        if facts.framework == "transformers":
            self._fill_hf(facts)
        elif facts.framework == "lightning":
            self._fill_lightning(facts)

    def _fill_hf(self, facts: TorchFacts) -> None:
        args = self.training_args
        facts.training_args = dict(args)
        if self.training_args_location:
            facts.evidence.append(f"TrainingArguments at {self.training_args_location}")
        accumulation = _int(args.get("gradient_accumulation_steps", 1))
        batch = _int(args.get("per_device_train_batch_size", _HF_BATCH_DEFAULT))
        facts.gradient_accumulation_steps = accumulation
        epochs = args.get("num_train_epochs")
        if isinstance(epochs, (int, float)) and float(epochs).is_integer():
            facts.epochs = int(epochs)
        if self.hf_rows is not None and batch:
            batches = ceil_div(self.hf_rows, batch)
            facts.batches_per_epoch = batches
            facts.evidence.append(
                f"batches per epoch: {batches} ({self.hf_rows_evidence}, batch {batch}, 1 device)"
            )
            if accumulation and batches % accumulation == 0:
                facts.steps_per_epoch = batches // accumulation
                facts.steps_per_epoch_evidence = (
                    f"{batches} batches / gradient_accumulation_steps {accumulation} (one device assumed)"
                )
            elif accumulation:
                facts.warnings.append(
                    f"{batches} batches per epoch do not divide by gradient_accumulation_steps "
                    f"{accumulation}: "
                    "whether the last partial accumulation steps depends on the transformers version"
                )

    def _fill_lightning(self, facts: TorchFacts) -> None:
        facts.scheduler_config = dict(self.scheduler_config)
        facts.lr_monitor = self.lr_monitor
        trainer = self.lightning_trainer or {}
        facts.trainer_args = dict(trainer)
        if self.lightning_trainer_location:
            facts.evidence.append(f"Lightning Trainer at {self.lightning_trainer_location}")
        max_epochs = trainer.get("max_epochs")
        facts.epochs = max_epochs if isinstance(max_epochs, int) else None
        accumulation = _int(trainer.get("accumulate_grad_batches", 1))
        facts.gradient_accumulation_steps = accumulation
        loader = self.fit_loader
        if loader is not None and loader.rows is not None:
            batches = loader.rows
            limit = trainer.get("limit_train_batches")
            if isinstance(limit, int) and not isinstance(limit, bool):
                batches = min(batches, limit)
            facts.batches_per_epoch = batches
            facts.evidence.append(
                f"batches per epoch: {batches} ({loader.extra.get('dataset_rows')} rows, batch_size "
                f"{loader.extra.get('batch_size')}; {loader.location})"
            )
            if accumulation:
                # Lightning steps on the epoch's last batch even when its accumulation is partial
                facts.steps_per_epoch = ceil_div(batches, accumulation)
                facts.steps_per_epoch_evidence = (
                    f"ceil({batches} batches / accumulate_grad_batches {accumulation}) (Lightning)"
                )


def _int(value: Any) -> int | None:
    if isinstance(value, Unevaluated) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError, NotConstant):
        return None
