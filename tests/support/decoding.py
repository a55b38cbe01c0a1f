"""The decoding tests' common ground: the contract's example event, the schema that accepts it,
and a column-by-column comparison of decoded events."""

from __future__ import annotations

from typing import Any

import numpy as np

from monitor.batches import EventBatch
from monitor.decode import EventSchema

CONTRACT: dict[str, Any] = {
    "event_id": "a1b2",
    "model": "car-loan",
    "model_version": "v3",
    "timestamp": "2019-04-02T10:11:12.345Z",
    "features": {"car_value": 39811.0, "salary_range": "40K - 60K €", "loan_length": 19},
    "prediction": 0.99,
    "segments": {"platform": "ios", "region": "na"},
}
T0 = 1_554_199_872_345  # the contract's timestamp in epoch ms
NOW = T0 + 3_600_000
SCHEMA = EventSchema(
    models=frozenset({"car-loan"}),
    numeric_features=("car_value", "loan_length"),
    categorical_features=("salary_range",),
    prediction_kind="numeric",
    segment_fields=("platform", "region"),
)


def assert_same_events(a: EventBatch, b: EventBatch) -> None:
    """Every column of ``a`` equals the same column of ``b`` (NaN equal to NaN)."""
    for name in ("event_time_ms", "partition", "offset"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for name in ("model", "model_version", "event_id"):
        assert getattr(a, name).equals(getattr(b, name)), name
    assert a.numeric.keys() == b.numeric.keys()
    for name, values in a.numeric.items():
        np.testing.assert_array_equal(values, b.numeric[name], err_msg=name)
    for group in ("categorical", "segments"):
        mine, theirs = getattr(a, group), getattr(b, group)
        assert mine.keys() == theirs.keys()
        for name, values in mine.items():
            assert values.equals(theirs[name]), name
    for name in ("prediction", "label"):
        mine, theirs = getattr(a, name), getattr(b, name)
        if isinstance(mine, np.ndarray):
            np.testing.assert_array_equal(mine, theirs, err_msg=name)
        else:
            assert mine == theirs if mine is None else mine.equals(theirs), name
