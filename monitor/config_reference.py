"""Render the configuration reference (docs/configuration.md) from the settings model itself,
so the document cannot drift from the code (a test compares them)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from monitor.config import Settings

HEADER = """# Configuration reference

One YAML file (`driftwarden --config driftwarden.yaml`); every field can be overridden from the
environment as `DRIFTWARDEN_<SECTION>__<FIELD>` (upper case, nested with `__`), e.g.
`DRIFTWARDEN_WINDOWS__SIZE=30m`. Precedence: environment, then the file, then the defaults.
Durations are written `250ms`, `30s`, `5m`, `1h`, `1d`. Paths in the file are relative to the
file. `driftwarden config check --config FILE` validates a file and prints the effective values.

This page is generated from `monitor/config.py` (`driftwarden config reference`).

| field | environment variable | default | description |
|---|---|---|---|
"""


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, tuple):
        value = [v.model_dump() if isinstance(v, BaseModel) else v for v in value]
    return f"`{json.dumps(value, default=str)}`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        env = "DRIFTWARDEN_" + path.upper().replace(".", "__")
        annotation = field.annotation
        description = (
            field.description
            or (
                annotation.__doc__
                if isinstance(annotation, type) and issubclass(annotation, BaseModel)
                else ""
            )
            or ""
        ).strip()
        rows.append(f"| `{path}` | `{env}` | {_default(field)} | {_first_line(description)} |")
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(_rows(annotation, f"{path}."))
    return rows


def render_reference() -> str:
    """The whole Markdown reference of every settings field."""
    return HEADER + "\n".join(_rows(Settings, "")) + "\n"


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""
