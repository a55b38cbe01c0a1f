"""The fast path: a whole batch of JSON messages parsed at once by ``pyarrow.json``.

Each message is wrapped as ``{"e": <message>}`` and the wrapped messages are joined one per
line, so that

- a message that is not an object, or a part of the wrong JSON type, breaks the explicit
  schema and the parse raises (``null`` parses, as a null row, and is checked for);
- a message can never run into the next one: the wrapper's closing brace either ends the line's
  document or makes the parse fail, and a raw line break inside a JSON string is an error;
- a message holding two documents shows up as an extra row (the row count is checked).

Unknown fields are inferred rather than ignored, so that unknown feature names can be counted
and NaN/Infinity literals (which pyarrow accepts) can be found in every float column. Invalid
UTF-8, which pyarrow does not check, is looked for in the joined bytes. Whenever anything is off
the reader returns None and the caller takes the per-record path, which decides per message.

Text-like parts get a declared arrow type (string at first): pyarrow would otherwise read
date-like strings as timestamps. When a stream sends such a part as numbers or booleans, the
per-record path reports the type it saw (:meth:`FastJsonReader.learn`) and later batches
declare that type instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from monitor.decode.columns import Column, Fields
from monitor.decode.paths import EventPaths, Path, dotted

_PREFIX = b'{"e":'
_SEPARATOR = b'}\n{"e":'
_SUFFIX = b"}"
_LEARNABLE = (pa.string(), pa.int64(), pa.float64(), pa.bool_())

_Tree = dict[str, "_Tree | pa.DataType"]


class FastJsonReader:
    """Parses a batch of JSON messages with pyarrow, or reports that it cannot."""

    def __init__(self, paths: EventPaths) -> None:
        self.paths = paths
        self._types = {name: pa.string() for name in paths.text_names}
        self._options = self._parse_options()

    def read(self, values: Sequence[bytes]) -> Fields | None:
        """The parts of every message, or None when the batch needs the per-record path."""
        parts = list(values)
        parts[0] = _PREFIX + parts[0]
        parts[-1] = parts[-1] + _SUFFIX
        joined = _SEPARATOR.join(parts)
        if not _is_utf8(joined):
            return None
        try:
            table = pa_json.read_json(pa.BufferReader(joined), parse_options=self._options)
        except pa.ArrowException:
            return None
        if table.num_rows != len(values):
            return None
        root = table.column("e").combine_chunks()
        if root.null_count or _has_non_finite(root):
            return None
        return self._fields(root)

    def learn(self, fields: Fields) -> None:
        """Declare from now on the one arrow type a text-like part had in ``fields``, if one."""
        columns = [*fields.scalars.values(), *fields.categorical.values()]
        columns += fields.segments.values()
        changed = False
        for column in columns:
            types = {piece.values.type for piece in column.pieces}
            if column.name in self._types and len(types) == 1:
                (kind,) = types
                if kind in _LEARNABLE and kind != self._types[column.name]:
                    self._types[column.name] = kind
                    changed = True
        if changed:
            self._options = self._parse_options()

    def _parse_options(self) -> pa_json.ParseOptions:
        tree: _Tree = {}
        for part, path in self.paths.scalars.items():
            kind = pa.string() if part == "model" else self._types.get(dotted(path))
            _declare(tree, path, kind)
        _declare(tree, self.paths.features, None, container=True)
        _declare(tree, self.paths.segments, None, container=True)
        members = [(self.paths.features, n) for n in self.paths.categorical]
        members += [(self.paths.segments, n) for n in self.paths.segment_fields]
        for container, name in members:
            path = (*container, name)
            _declare(tree, path, self._types[dotted(path)])
        schema = pa.schema([pa.field("e", _struct(tree))])
        return pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")

    def _fields(self, root: pa.StructArray) -> Fields:
        """Every part of the parsed ``{"e": message}`` rows, one piece per column."""
        paths = self.paths
        features = _at(root, paths.features)
        segments = _at(root, paths.segments)
        known = paths.known_features
        unknown = {}
        if features is not None:
            for index in range(features.type.num_fields):
                name = features.type.field(index).name
                if name not in known:
                    child = pc.struct_field(features, [index])
                    unknown[name] = child.is_valid().to_numpy(zero_copy_only=False)
        return Fields(
            size=len(root),
            scalars={
                part: Column.whole(dotted(path), _at(root, path))
                for part, path in paths.scalars.items()
            },
            numeric={n: _member(features, paths.features, n) for n in paths.numeric},
            categorical={n: _member(features, paths.features, n) for n in paths.categorical},
            segments={n: _member(segments, paths.segments, n) for n in paths.segment_fields},
            unknown_features=unknown,
        )


def _member(container: pa.StructArray | None, path: Path, name: str) -> Column:
    """The column of member ``name`` of the ``features``/``segments`` object at ``path``."""
    values = None if container is None else _at(container, (name,))
    return Column.whole(dotted((*path, name)), values)


def _declare(tree: _Tree, path: Path, kind: pa.DataType | None, container: bool = False) -> None:
    """Put ``path`` into the schema tree: its parents as objects, itself as ``kind`` if given."""
    node = tree
    for part in path[:-1]:
        child = node.setdefault(part, {})
        assert isinstance(child, dict), "FieldMapping forbids a path inside another part"
        node = child
    if container:
        node.setdefault(path[-1], {})
    elif kind is not None:
        node[path[-1]] = kind


def _struct(tree: _Tree) -> pa.StructType:
    return pa.struct(
        [(name, _struct(node) if isinstance(node, dict) else node) for name, node in tree.items()]
    )


def _at(root: pa.StructArray, path: Path) -> pa.Array | None:
    """The values at ``path`` (null where a parent is null), or None when no event has it."""
    node = root
    for part in path:
        index = node.type.get_field_index(part)
        if index < 0:
            return None
        node = pc.struct_field(node, [index])
    return node


def _has_non_finite(array: pa.Array) -> bool:
    """Whether any float anywhere in ``array`` (through structs and lists) is NaN or infinite."""
    kind = array.type
    if pa.types.is_floating(kind):
        return pc.all(pc.is_finite(array)).as_py() is False
    if pa.types.is_struct(kind):
        return any(_has_non_finite(array.field(i)) for i in range(kind.num_fields))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _has_non_finite(array.flatten())
    return False


def _is_utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8 (pyarrow's JSON reader does not check)."""
    if data.isascii():
        return True
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True
