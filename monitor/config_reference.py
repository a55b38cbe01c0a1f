"""Render the configuration reference (docs/configuration.md) from the settings model itself,
so the document cannot drift from the code (a test compares them)."""

from __future__ import annotations

import json
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from monitor.config import Settings, parse_duration_ms, parse_window_size

HEADER = """# Configuration reference

One YAML file (`driftwarden --config driftwarden.yaml`); every field can be overridden from the
environment as `DRIFTWARDEN_<SECTION>__<FIELD>` (upper case, nested with `__`), e.g.
`DRIFTWARDEN_WINDOWS__SIZE=30m`. Precedence: environment, then the file, then the defaults.
Durations are written `250ms`, `30s`, `5m`, `1h`, `1d` (a window size also `1w`, `1mo`). Paths
in the file are relative to the file. `driftwarden config check --config FILE` validates a file
and prints the effective values.

This page is generated from `monitor/config.py` (`driftwarden config reference`).

| field | environment variable | default | description |
|---|---|---|---|
"""


_MISSING = object()


def _default(field: Any, inherited: Any) -> str:
    if inherited is not _MISSING:
        value = inherited
    elif field.is_required():
        return "required"
    else:
        value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, tuple):
        value = [v.model_dump() if isinstance(v, BaseModel) else v for v in value]
    parsers = (parse_duration_ms, parse_window_size)
    if any(getattr(m, "func", None) in parsers for m in field.metadata):
        return f"`{value}` ms"
    return f"`{json.dumps(value, default=str)}`"


def _section(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """The settings section a field holds (directly or as a list of them) and its path suffix."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    listed = get_origin(annotation) in (tuple, list)
    for arg in get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg, "[]" if listed else ""
    return None, ""


def _rows(model: type[BaseModel], prefix: str, instance: Any = None) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        section, suffix = _section(field.annotation)
        description = field.description or (section.__doc__ if section else "") or ""
        if "[]" in prefix:
            env = "(in the list)"
        else:
            env = (
                "`DRIFTWARDEN_"
                + path.upper().replace(".", "__")
                + "`"
                + (" (JSON)" if suffix else "")
            )
        inherited = getattr(instance, name) if instance is not None else _MISSING
        rows.append(
            f"| `{path}` | {env} | {_default(field, inherited)} | {_first_line(description)} |"
        )
        if section is not None:
            child = inherited if isinstance(inherited, BaseModel) else None
            if child is None and not suffix and not field.is_required():
                child = field.get_default(call_default_factory=True)
            rows.extend(_rows(section, f"{path}{suffix}.", child))
    return rows


def render_reference() -> str:
    """The whole Markdown reference of every settings field."""
    return HEADER + "\n".join(_rows(Settings, "")) + "\n"


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""
