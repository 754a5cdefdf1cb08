"""The stages :func:`lraudit.timeline.build_timeline` runs, one module per job.

Package-private: the public contract (``Timeline``, ``LrChange``, the column tuples,
``build_timeline``) is :mod:`lraudit.timeline`, which re-exports what is defined here. Data
flows one way - the orchestrator imports these modules, never the reverse - so the small
types both sides need live in :mod:`lraudit._timeline.contracts`:

- :mod:`~lraudit._timeline.spec`: which optimizer spec, Keras generation and backend (executor);
- :mod:`~lraudit._timeline.layout`: fits, steps per epoch, the iteration counter, the row layout;
- :mod:`~lraudit._timeline.changes`: the lr variable per epoch and the callbacks' writes to it;
- :mod:`~lraudit._timeline.applied`: the lr each update applied, and the one after each epoch;
- :mod:`~lraudit._timeline.logged`: every logged lr joined to the step it describes, classified;
- :mod:`~lraudit._timeline.scalars`: reading rows of ``Run.scalars`` / ``Run.events``.
"""
