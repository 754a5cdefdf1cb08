"""Renderers of results: table writers (:mod:`lraudit.report.tables`), report formats and plots.

Each module renders one kind of output; none of them computes anything about the run.
"""
