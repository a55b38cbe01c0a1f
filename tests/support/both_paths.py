"""Messages of model "m" for comparing the decoder's two paths (the native batch path and the
Python per-record path): the schema they are decoded with, their records, and the settings of
the property tests that compare them."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, settings

from monitor.batches import RawRecords
from monitor.decode import EventSchema

SCHEMA = EventSchema(
    models=frozenset({"m"}),
    numeric_features=("x", "y"),
    categorical_features=("color",),
    prediction_kind="numeric",
    label_kind="categorical",
    segment_fields=("platform",),
)
#: The property tests' settings (they take pytest's monkeypatch, a function-scoped fixture).
PROPERTY = settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])


def records(values: list[bytes]) -> RawRecords:
    """``values`` as messages of partition 0 at offsets 0, 1, … without record times."""
    n = len(values)
    return RawRecords(values, np.zeros(n, np.int64), np.arange(n, dtype=np.int64), np.full(n, -1))
