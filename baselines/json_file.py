"""Reading a JSON file the user points driftwarden at, with one-line errors naming path and fix.

A :class:`JsonFile` describes one kind of file (a baseline, a checkpoint): how messages name
it, which error it raises and what the user can do about each problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from baselines.errors import DriftwardenError


@dataclass(frozen=True)
class JsonFile:
    """One kind of JSON file: its name in messages, its error, and the fix of each problem.

    ``not_json`` completes ``"<name> <path> "`` for bytes that are not JSON, with ``{problem}``
    standing for the parser's complaint. Without ``missing_fix`` a missing file is no user
    mistake: :meth:`read` lets ``FileNotFoundError`` through for the caller to handle.
    """

    name: str
    error: type[DriftwardenError]
    unreadable_fix: str
    not_json: str
    missing_fix: str | None = None

    def read(self, path: Path) -> object:
        """The parsed content of ``path``; raises ``error`` with one line for any problem.

        >>> import tempfile
        >>> notes = JsonFile("notes file", DriftwardenError, "check its permissions",
        ...                  "is not JSON ({problem}); fix it", "check the path")
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = Path(folder, "notes.json")
        ...     _ = path.write_bytes(b'{"a": [1]}')
        ...     notes.read(path)
        {'a': [1]}
        >>> notes.read(Path("/none.json"))
        Traceback (most recent call last):
        ...
        baselines.errors.DriftwardenError: notes file /none.json does not exist; check the path
        """
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            if self.missing_fix is None:
                raise
            raise self.error(f"{self.name} {path} does not exist; {self.missing_fix}") from None
        except OSError as error:
            raise self.error(
                f"cannot read {self.name} {path} ({error.strerror or error}); {self.unreadable_fix}"
            ) from None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            problem = self.not_json.format(problem=error)
            raise self.error(f"{self.name} {path} {problem}") from None
