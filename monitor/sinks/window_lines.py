"""The report lines of windows that close together, written from their score and level arrays.

A window's line is what :func:`monitor.sinks.report.window_record` would serialise, byte for
byte, but built without a dictionary per subject: the subjects' part of the line is one bytes
template per model and set of checks (a ``%`` slot per number and level), filled once per window
from matrices whose floats orjson prints all at once. The parts that vary in shape (performance,
the canary comparison, detectors) are small dictionaries serialised by orjson.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np
import orjson

from baselines.values import PREDICTION_NAME, PREDICTION_SUBJECT
from monitor.evaluate.checks import DRIFT_CHECKS, PERFORMANCE
from monitor.evaluate.closing import CheckGroup
from monitor.evaluate.levels import LEVELS, Level
from monitor.sinks.report import iso_ms
from monitor.window.slot_layout import CLASS_PREFIX, LABEL
from monitor.window.windower import WindowCounts

_SLOT = re.compile(rb"(%%|%d|%s)")
"""What a template holds besides text: an escaped ``%``, or a slot."""
#: Each level code's JSON text.
_LEVEL_JSON = np.array([orjson.dumps(level.value) for level in LEVELS], dtype=object)


class _Template(NamedTuple):
    """The subjects' part of a line for one group's windows, and where its slots are filled
    from: the template's slots in order are ints, floats or level codes (``kinds``)."""

    text: bytes
    kinds: tuple[int, ...]
    levels_order: list[int]
    levels_keys: tuple[tuple[str, str], ...]


class SubjectLines:
    """Builds the subjects' part of window lines; the templates are kept per model and checks."""

    def __init__(self) -> None:
        self._templates: dict[tuple[int, tuple[tuple[int, str], ...]], _Template] = {}
        self._by_content: dict[tuple[object, ...], _Template] = {}

    def lines(
        self, group: CheckGroup, reported: np.ndarray, warning: np.ndarray, intervention: np.ndarray
    ) -> tuple[list[bytes], list[dict[tuple[str, str], Level]]]:
        """Per window of ``group``: the subjects' part of its line (from ``,"features":``), and
        its levels keyed (subject as alert records name it, check) in report order (windows
        with the same levels share one mapping).

        A number or level the same in every window (a fixed threshold, ``"ok"``) is written
        into each model's template once (:func:`_baked`); only the others are filled per
        window."""
        model = group.model
        rows = group.rows if len(group.rows) < len(model.members) else slice(None)
        ints: list[np.ndarray] = []
        floats: list[np.ndarray] = []
        codes: list[np.ndarray] = []
        for p, columns in enumerate(model.subjects):
            ints.append(columns.events[rows])
            floats.extend(values[rows] for values in columns.statistics.values())
            floats.extend(values[rows] for values in columns.rates.values())
            checks = [c for c, (position, _) in enumerate(group.checks) if position == p]
            if not checks:
                continue
            codes.append(reported[:, checks])
            codes.append(reported[:, checks].max(axis=1, keepdims=True))
            for c in checks:
                floats.extend((warning[:, c], intervention[:, c]))
                if group.checks[c][1] in DRIFT_CHECKS:
                    floats.extend(group.tiers[:, c].T)
        which = model.model_of[group.rows].tolist()
        if not which:
            return [], []
        numbers = np.stack(floats, axis=1)
        level_codes = np.concatenate(codes, axis=1)
        same_number = _same_in_every_row(numbers.view(np.int64))  # bitwise: -0.0 is not 0.0
        same_level = _same_in_every_row(level_codes)
        kinds = self._template(group, which[0]).kinds
        baked = _baked(kinds, same_number, same_level)
        constants = (
            _json_floats(numbers[0, same_number]),
            _LEVEL_JSON[level_codes[0, same_level]].tolist(),
        )
        fill = _fill(kinds, baked, *constants)
        by_text: dict[bytes, bytes] = {}  # models sharing a template share its prefilling
        texts = {}
        for k in set(which):
            text = self._template(group, k).text
            if text not in by_text:
                by_text[text] = _prefilled(text, fill)
            texts[k] = by_text[text]
        cells = _slots(kinds, baked)
        varying = _json_floats(numbers[:, ~same_number])
        width = len(varying) // len(which)
        parts = [
            texts[k] % cells(counts + varying[r * width : (r + 1) * width] + levels)
            for r, (k, counts, levels) in enumerate(
                zip(
                    which,
                    np.stack(ints, axis=1).tolist(),
                    _LEVEL_JSON[level_codes[:, ~same_level]].tolist(),
                    strict=True,
                )
            )
        ]
        return parts, self._levels(group, reported, which)

    def _levels(
        self, group: CheckGroup, reported: np.ndarray, which: list[int]
    ) -> list[dict[tuple[str, str], Level]]:
        """Each window's levels by (subject, check) in report order; equal ones shared."""
        order = self._template(group, which[0]).levels_order
        ordered = np.ascontiguousarray(reported[:, order], dtype=np.uint8)
        width = ordered.shape[1]
        row_bytes = ordered.tobytes()
        shared: dict[tuple[int, bytes], dict[tuple[str, str], Level]] = {}
        out = []
        for r, k in enumerate(which):
            key = (k, row_bytes[r * width : (r + 1) * width])
            levels = shared.get(key)
            if levels is None:
                keys = self._template(group, k).levels_keys
                levels = shared[key] = dict(zip(keys, map(LEVELS.__getitem__, key[1]), strict=True))
            out.append(levels)
        return out

    def _template(self, group: CheckGroup, layout: int) -> _Template:
        """The template of a model's windows with these checks; models of one layout shape and
        the same subject names share one."""
        of_model = group.model.layouts[layout]
        key = (id(of_model), group.checks)
        template = self._templates.get(key)
        if template is None:
            names = tuple(subject.name for subject in of_model.subjects)
            same = (names, of_model.shape, group.checks)
            template = self._by_content.get(same)
            if template is None:
                template = self._by_content[same] = _template(group, layout)
            self._templates[key] = template
        return template


def _json_floats(values: np.ndarray) -> list[bytes]:
    """Each float's JSON text as orjson prints it (``null`` for NaN and infinities), row after
    row: orjson prints a float64 array's elements as it prints the same Python floats, without
    making them."""
    if not values.size:
        return []
    flat = np.ascontiguousarray(values, dtype=np.float64).ravel()
    texts: list[bytes] = orjson.dumps(flat, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].split(b",")
    return texts


def _same_in_every_row(values: np.ndarray) -> np.ndarray:
    """Per column: whether every row holds the first row's value."""
    same: np.ndarray = (values == values[:1]).all(axis=0)
    return same


def _baked(kinds: tuple[int, ...], same_number: np.ndarray, same_level: np.ndarray) -> bytes:
    """Per slot of a template of ``kinds`` (ints, floats, levels): 1 where its value is the same
    in every window of a close (written into the template), 0 where it is filled per window.
    Counts are filled per window."""
    constant = {0: iter(()), 1: iter(same_number.tolist()), 2: iter(same_level.tolist())}
    return bytes(int(kind != 0 and next(constant[kind])) for kind in kinds)


def _prefilled(text: bytes, fill: tuple[bytes, ...]) -> bytes:
    """``text`` with each slot written as ``fill`` says: the text of a number or level the same
    in every window, else the slot itself (``%d``, ``%s``) left to fill per window.

    >>> text, kinds = b'{"n":%d,"x":%s,"y":%s,"%%":%s}', (0, 1, 1, 2)
    >>> fill = _fill(kinds, bytes([0, 1, 0, 1]), [b"0.5"], [b'"ok"'])
    >>> _prefilled(text, fill)
    b'{"n":%d,"x":0.5,"y":%s,"%%":"ok"}'
    """
    return _escaped_twice(text) % fill


def _fill(
    kinds: tuple[int, ...], baked: bytes, numbers: list[bytes], levels: list[bytes]
) -> tuple[bytes, ...]:
    """What :func:`_prefilled` writes in each slot of a template of ``kinds``: the texts of the
    ``baked`` ones (``numbers``, ``levels``, in slot order), the others' own ``%d`` or ``%s``."""
    constant = {1: iter(numbers), 2: iter(levels)}
    return tuple(
        next(constant[kind]) if bake else b"%d" if kind == 0 else b"%s"
        for kind, bake in zip(kinds, baked, strict=True)
    )


@lru_cache(maxsize=256)
def _escaped_twice(text: bytes) -> bytes:
    """A template whose slots all take text (``%s``) and whose literal ``%`` survive one
    formatting escaped."""
    return _SLOT.sub(lambda found: b"%%%%" if found[0] == b"%%" else b"%s", text)


@lru_cache(maxsize=256)
def _slots(kinds: tuple[int, ...], baked: bytes) -> Callable[[list[Any]], tuple[Any, ...]]:
    """What fills the slots of a template (of these ``kinds``) not ``baked`` from one window's
    ints, then float texts, then level texts, each kind in slot order."""
    left = [kind for kind, bake in zip(kinds, baked, strict=True) if not bake]
    taken = {kind: 0 for kind in (0, 1, 2)}
    first = {0: 0, 1: left.count(0), 2: left.count(0) + left.count(1)}
    at = []
    for kind in left:
        at.append(first[kind] + taken[kind])
        taken[kind] += 1
    if not at:
        return lambda row: ()
    getter = itemgetter(*at)
    return (lambda row: (getter(row),)) if len(at) == 1 else getter


def _template(group: CheckGroup, layout: int) -> _Template:
    """The subjects' part of the line of ``group``'s windows of model ``layout``: features,
    classes' probabilities (multiclass, in the layout between the features and the
    prediction), prediction, label."""
    features, classes, others = [], [], []
    kinds: list[int] = []
    names = group.names(layout)
    for p, (subject, columns) in enumerate(
        zip(group.model.layouts[layout].subjects, group.model.subjects, strict=True)
    ):
        name = subject.name
        parts = [b'{"events":%d']
        kinds.append(0)
        for stat in [*columns.statistics, *columns.rates]:
            parts.append(b"," + _escaped(orjson.dumps(stat)) + b":%s")
            kinds.append(1)
        checks = [check for position, check in group.checks if position == p]
        if checks:
            parts.append(b',"levels":{')
            parts.append(b",".join(_escaped(orjson.dumps(c)) + b":%s" for c in checks))
            parts.append(b'},"level":%s,"thresholds":{')
            kinds.extend([2] * (len(checks) + 1))
            parts.append(b",".join(_escaped(orjson.dumps(c)) + _tiers_template(c) for c in checks))
            parts.append(b"}")
            kinds.extend([1] * sum(6 if c in DRIFT_CHECKS else 2 for c in checks))
        parts.append(b"}")
        text = b"".join(parts)
        if name == PREDICTION_SUBJECT:
            others.append(b',"prediction":' + text)
        elif name == LABEL:
            others.append(b',"label":' + text)
        elif name.startswith(CLASS_PREFIX):
            classes.append(_escaped(orjson.dumps(name[len(CLASS_PREFIX) : -1])) + b":" + text)
        else:
            features.append(_escaped(orjson.dumps(name)) + b":" + text)
    order, keys = _levels_order(names)
    if classes:
        others.insert(0, b',"classes":{' + b",".join(classes) + b"}")
    return _Template(
        b',"features":{' + b",".join(features) + b"}" + b"".join(others),
        tuple(kinds),
        order,
        keys,
    )


def _tiers_template(check: str) -> bytes:
    """A check's thresholds in the line: those it was compared with, and for a drift check its
    practical and statistical ones (see ``checks.DriftTiers``)."""
    applied = b'{"warning":%s,"intervention":%s'
    if check not in DRIFT_CHECKS:
        return b":" + applied + b"}"
    kinds = b',"practical":{"warning":%s,"intervention":%s}'
    kinds += b',"statistical":{"warning":%s,"intervention":%s}'
    return b":" + applied + kinds + b"}"


def _levels_order(
    names: tuple[tuple[str, str], ...],
) -> tuple[list[int], tuple[tuple[str, str], ...]]:
    """The checks in the order of a window record's levels (each subject's checks, subjects in
    check order, performance last), and their keys as alert records name the subjects."""
    subjects = list(dict.fromkeys(s for s, _ in names if s != PERFORMANCE))
    order = [c for s in subjects for c, (subject, _) in enumerate(names) if subject == s]
    order += [c for c, (subject, _) in enumerate(names) if subject == PERFORMANCE]
    keys = tuple(
        (PREDICTION_NAME if names[c][0] == PREDICTION_SUBJECT else names[c][0], names[c][1])
        for c in order
    )
    return order, keys


def _escaped(text: bytes) -> bytes:
    """Constant text of a ``%`` template."""
    return text.replace(b"%", b"%%")


@lru_cache(maxsize=4096)
def _iso(epoch_ms: int) -> str:
    """:func:`iso_ms`, remembered: the windows closing together share their bounds."""
    return iso_ms(epoch_ms)


def window_line(window: WindowCounts, subjects: bytes, tail: Mapping[str, Any]) -> bytes:
    """A window's line: its key, bounds and events, the subjects' part (see
    :meth:`SubjectLines.lines`), then ``tail`` (performance, versus, detectors)."""
    key = window.key
    head = {
        "kind": "window",
        "model": key.model,
        "model_version": key.model_version,
        "segment": key.segment,
        "start": _iso(window.start_ms),
        "end": _iso(window.end_ms),
        "events": window.events,
    }
    return b"".join((orjson.dumps(head)[:-1], subjects, b",", orjson.dumps(tail)[1:]))
