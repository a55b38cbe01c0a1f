"""Which JSON reader decodes: the native one where built, Python's by choice or without it."""

from __future__ import annotations

import pytest

from monitor.decode import EventDecoder, EventSchema
from monitor.decode.readers import READER_ENV, json_reader, native_reader_built
from monitor.errors import ConfigError

SCHEMA = EventSchema(models=frozenset({"m"}), numeric_features=("x",))


def test_the_native_reader_is_the_default_where_it_was_built() -> None:
    """With the extension built and nothing asked, batches go to the native reader."""
    assert native_reader_built()
    assert json_reader({}) == "native" and EventDecoder(SCHEMA).reader == "native"


def test_the_environment_chooses_the_python_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """DRIFTWARDEN_JSON_READER=python makes a decoder read per record, on one thread."""
    monkeypatch.setenv(READER_ENV, "python")
    decoder = EventDecoder(SCHEMA, threads=4)
    assert (decoder.reader, decoder.threads) == ("python", 1)


def test_without_the_native_reader_python_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """An install built without Rust falls back to the Python reader by itself."""
    monkeypatch.setattr("monitor.decode.readers.native_reader_built", lambda: False)
    assert json_reader({}) == "python"


def test_insisting_on_a_native_reader_that_is_not_there_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DRIFTWARDEN_JSON_READER=native without the extension says how to fix it."""
    monkeypatch.setattr("monitor.decode.readers.native_reader_built", lambda: False)
    with pytest.raises(ConfigError, match="reinstall with cargo on the PATH"):
        json_reader({READER_ENV: "native"})


def test_an_unknown_reader_name_is_refused() -> None:
    """A value other than native or python names the two choices."""
    with pytest.raises(ConfigError, match="use native or python"):
        json_reader({READER_ENV: "rust"})
