"""lraudit: reconstruct the learning rate Keras really applied and audit what the logs say."""
from __future__ import annotations

__version__ = "1.0.0"
