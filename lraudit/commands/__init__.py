"""One module per command; :mod:`lraudit.cli` registers them. Heavy imports stay inside functions."""
