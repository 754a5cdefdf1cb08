"""Auditing many runs: thousands of run folders, local or in object storage, on one machine or a
Dask cluster, each run read and audited independently with results streamed as they complete.

Public interface: :func:`plan_tasks` (discovery, one :class:`RunTask` per run folder),
:func:`audit_task` (the per-run function a worker runs), :func:`iter_task_audits` (results as
they complete, locally or on ``scheduler``) and :func:`audit_stream` (all three together).
"""
from lraudit.scale.engine import RunTask, audit_stream, audit_task, iter_task_audits, plan_tasks

__all__ = ["RunTask", "audit_stream", "audit_task", "iter_task_audits", "plan_tasks"]
