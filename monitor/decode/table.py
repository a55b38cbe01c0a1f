"""Flat files (Parquet, CSV): one event per row, one column per part.

Reserved columns are named by the field mapping's paths (``event_id``, ``model``,
``model_version``, ``timestamp``, ``prediction``, ``label``, ``schema_version`` by default),
segment columns by the segment field, and every other column is a feature under its own name
(counted as unknown when the schema does not know it). A part given a column of its own
(``FieldMapping.columns``: a training file's ``y_pred_proba``) is read from that column when the
file has it, else from the reserved one; a prediction column given as a pattern with one ``*``
(``proba_*``) reads the columns it matches as objects of class probabilities, the class being
what ``*`` matched.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from baselines.columns import columns_matching
from monitor.batches import IntArray
from monitor.decode.columns import Column, Fields
from monitor.decode.paths import EventPaths, dotted


def fields_from_table(table: pa.Table | pa.RecordBatch, paths: EventPaths) -> Fields:
    """The parts of every row of ``table``.

    >>> from monitor.decode.config import EventSchema, FieldMapping
    >>> paths = EventPaths.of(EventSchema(frozenset({"m"}), ("x",)), FieldMapping())
    >>> fields = fields_from_table(pa.table({"model": ["m"], "x": [1.0], "extra": [2]}), paths)
    >>> fields.numeric["x"].pieces[0].values.to_pylist(), list(fields.unknown_features)
    ([1.0], ['extra'])

    A part's own column comes before its reserved one, when the table has it:

    >>> schema = EventSchema(frozenset({"m"}), prediction_kind="numeric")
    >>> paths = EventPaths.of(schema, FieldMapping(columns={"prediction": "score"}))
    >>> rows = pa.table({"prediction": [0.1], "score": [0.9]})
    >>> fields_from_table(rows, paths).scalars["prediction"].pieces[0].values.to_pylist()
    [0.9]
    >>> fields_from_table(rows.drop(["score"]), paths).scalars["prediction"].name
    'prediction'
    """
    names = table.schema.names

    def column(name: str) -> Column:
        if name not in names:
            return Column(name)
        values = table.column(names.index(name))
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        return Column.whole(name, values)

    scalar_names = {
        part: paths.columns[part] if paths.columns.get(part) in names else dotted(path)
        for part, path in paths.scalars.items()
    }
    scalars = {part: column(name) for part, name in scalar_names.items()}
    per_class = columns_matching(names, paths.columns.get("prediction", ""))
    if per_class and "prediction" in scalars:
        scalars["prediction"] = _class_columns(table, per_class)
    reserved = paths.reserved | paths.known_features | set(paths.segment_fields)
    reserved |= set(per_class.values())
    unknown: dict[str, IntArray] = {}
    for name in dict.fromkeys(names):
        if name not in reserved:
            valid = column(name).pieces[0].values.is_valid().to_numpy(zero_copy_only=False)
            unknown[name] = np.flatnonzero(valid)
    return Fields(
        size=table.num_rows,
        scalars=scalars,
        numeric={n: column(n) for n in paths.numeric},
        categorical={n: column(n) for n in paths.categorical},
        segments={n: column(n) for n in paths.segment_fields},
        unknown_features=unknown,
    )


def _class_columns(table: pa.Table | pa.RecordBatch, per_class: dict[str, str]) -> Column:
    """One column per class (``fields.columns.prediction`` a pattern such as ``proba_*``, the
    class being what ``*`` matched) as one column of objects class → probability.

    >>> rows = pa.table({"p_b": [0.75], "p_a": [0.25]})
    >>> _class_columns(rows, {"a": "p_a", "b": "p_b"}).pieces[0].values.to_pylist()
    [{'a': 0.25, 'b': 0.75}]
    """
    names = table.schema.names
    children = []
    for name in per_class.values():
        values = table.column(names.index(name))
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        children.append(values)
    objects = pa.StructArray.from_arrays(children, names=list(per_class))
    return Column.whole(",".join(per_class.values()), objects)
