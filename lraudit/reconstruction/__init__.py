"""The timeline stage: the lr Keras applied at every optimizer update, joined with what was logged.

The public contract is re-exported here (``Timeline``, ``build_timeline``, ``LrChange``, the
column tuples, ``write_timeline``); the library function ``lraudit.timeline(path, ...)`` is
:func:`lraudit.api.timeline`. One module per job, data flowing one way - :mod:`.build` runs
the stages in order, no stage imports it - so the small types several stages need live in
:mod:`.contracts`:

- :mod:`.spec`: which optimizer spec, Keras generation and backend (executor);
- :mod:`.layout`: fits, steps per epoch, the iteration counter, the row layout;
- :mod:`.changes`: the lr variable per epoch and the callbacks' writes to it;
- :mod:`.applied`: the lr each update applied, and the one after each epoch;
- :mod:`.logged`: every logged lr joined to the step it describes, classified;
- :mod:`.scalars`: reading rows of ``Run.scalars`` / ``Run.events``;
- :mod:`.build`: :func:`build_timeline` and :class:`Timeline` (the algorithm, in order);
- :mod:`.io`: writing a timeline (csv, parquet, json) so float32 values read back exactly.
"""
from __future__ import annotations

from lraudit.reconstruction.build import (
    NAN_MEANS_MISSING,
    TIMELINE_COLUMNS,
    Timeline,
    build_timeline,
)
from lraudit.reconstruction.contracts import (
    LOGGED_COLUMNS,
    PLATEAU,
    RELATIONS,
    SCHEDULE_READ_ULPS,
    SCHEDULER,
    LrChange,
)
from lraudit.reconstruction.io import write_timeline

__all__ = [
    "LOGGED_COLUMNS",
    "NAN_MEANS_MISSING",
    "PLATEAU",
    "RELATIONS",
    "SCHEDULER",
    "SCHEDULE_READ_ULPS",
    "TIMELINE_COLUMNS",
    "LrChange",
    "Timeline",
    "build_timeline",
    "write_timeline",
]
