"""The checkpoint file: atomic replacement, and clear errors instead of half-read state."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from baselines.values import Baseline
from monitor.config import load_settings
from monitor.errors import CheckpointError
from monitor.pipeline import Pipeline
from monitor.state.checkpoint import Checkpoint, CheckpointStore, offset_key, parse_offset_key
from monitor.state.snapshot import restore, snapshot
from tests.support.builders import make_batch

SAVED_AT = 1554199872.345  # 2019-04-02T10:11:12.345Z
STATE: dict[str, Any] = {"format": "driftwarden.state/1", "open": [{"counts": [1, 0, 2]}]}


def _store(path: Path) -> CheckpointStore:
    return CheckpointStore(path, clock=lambda: SAVED_AT)


def test_saved_checkpoint_loads_back(tmp_path: Path) -> None:
    """What was saved loads back: the state, the offsets and when it was saved."""
    store = _store(tmp_path / "checkpoint.json")
    store.save(STATE, {"predictions:1": 120, "predictions:0": 7})
    assert store.load() == Checkpoint(
        STATE, {"predictions:0": 7, "predictions:1": 120}, "2019-04-02T10:11:12.345Z"
    )


def test_no_checkpoint_loads_as_none(tmp_path: Path) -> None:
    """Before the first save there is no checkpoint."""
    assert _store(tmp_path / "checkpoint.json").load() is None


def test_save_creates_the_folder(tmp_path: Path) -> None:
    """Saving into a folder that does not exist yet creates it."""
    store = _store(tmp_path / "state" / "m" / "checkpoint.json")
    store.save(STATE, {})
    assert store.load() is not None


def test_save_replaces_the_previous_checkpoint(tmp_path: Path) -> None:
    """A second save replaces the first and leaves no other file behind."""
    store = _store(tmp_path / "checkpoint.json")
    store.save(STATE, {"predictions:0": 7})
    store.save({"format": "driftwarden.state/1"}, {"predictions:0": 9})
    loaded = store.load()
    assert loaded is not None
    assert (loaded.state, loaded.offsets) == (
        {"format": "driftwarden.state/1"},
        {"predictions:0": 9},
    )
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.json"]


def test_pipeline_state_survives_the_store(tmp_path: Path, baseline: Baseline) -> None:
    """A pipeline snapshot saved and loaded restores into a pipeline with the same snapshot."""
    settings = load_settings(None, models=[{"name": "m", "baseline": "m.json"}])
    pipeline = Pipeline(settings, {"m": baseline}, [])
    pipeline.windower.add(make_batch(list(range(0, 3_600_000, 36_000))))
    store = _store(tmp_path / "checkpoint.json")
    store.save(snapshot(pipeline), {"predictions:0": 100})
    loaded = store.load()
    assert loaded is not None
    restored = Pipeline(settings, {"m": baseline}, [])
    restore(restored, loaded.state)
    assert orjson.dumps(snapshot(restored)) == orjson.dumps(snapshot(pipeline))


def test_leftover_temporary_file_is_ignored_then_removed(tmp_path: Path) -> None:
    """A temporary file left by a crashed save does not affect loading; the next save deletes it."""
    store = _store(tmp_path / "checkpoint.json")
    store.save(STATE, {"predictions:0": 7})
    leftover = tmp_path / ".checkpoint.json.k3j2x9.tmp"
    leftover.write_bytes(b'{"state": {"format": "drift')
    loaded = store.load()
    assert loaded is not None
    assert loaded.offsets == {"predictions:0": 7}
    store.save(STATE, {"predictions:0": 8})
    assert not leftover.exists()


def test_failed_save_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save that fails before the rename leaves the previous checkpoint and no temporary file."""
    store = _store(tmp_path / "checkpoint.json")
    store.save(STATE, {"predictions:0": 7})

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(CheckpointError) as error:
        store.save(STATE, {"predictions:0": 8})
    assert str(error.value) == (
        f"cannot write checkpoint {store.path} (No space left on device); "
        f"check free space and the permissions of {tmp_path}"
    )
    monkeypatch.undo()
    loaded = store.load()
    assert loaded is not None
    assert loaded.offsets == {"predictions:0": 7}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.json"]


def test_data_is_made_durable_before_the_target_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new document is fsynced in full while the target still holds the previous one."""
    store = _store(tmp_path / "checkpoint.json")
    store.save(STATE, {"predictions:0": 7})
    previous = store.path.read_bytes()
    seen: list[tuple[bytes, bytes]] = []
    real_fsync = os.fsync

    def observing_fsync(fd: int) -> None:
        if os.path.isfile(f"/proc/self/fd/{fd}"):
            written = Path(os.readlink(f"/proc/self/fd/{fd}")).read_bytes()
            seen.append((written, store.path.read_bytes()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", observing_fsync)
    store.save(STATE, {"predictions:0": 8})
    monkeypatch.undo()
    ((written, target_meanwhile),) = seen
    assert orjson.loads(written)["offsets"] == {"predictions:0": 8}
    assert target_meanwhile == previous
    assert store.path.read_bytes() == written


def test_garbage_checkpoint_is_a_one_line_error(tmp_path: Path) -> None:
    """A checkpoint that is not JSON gives one line naming the file and the fix."""
    store = _store(tmp_path / "checkpoint.json")
    store.path.write_bytes(b'{"state": {"format": "drift')
    with pytest.raises(CheckpointError) as error:
        store.load()
    message = str(error.value)
    assert message.startswith(f"checkpoint {store.path} is damaged (not JSON: ")
    assert message.endswith("); delete it to start fresh")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([1, 2], "not a JSON object"),
        ({"state": {}, "saved_at": "x"}, "no 'offsets' field"),
        ({"state": [], "offsets": {}, "saved_at": "x"}, "'state' is not an object"),
        ({"state": {}, "offsets": {"predictions": 1}, "saved_at": "x"}, "offset key 'predictions'"),
        (
            {"state": {}, "offsets": {"p:0": "7"}, "saved_at": "x"},
            "offset of p:0 is not an integer",
        ),
        ({"state": {}, "offsets": {}, "saved_at": 5}, "'saved_at' is not text"),
        ({"state": {}, "offsets": [], "saved_at": "x"}, "'offsets' is not an object"),
    ],
)
def test_checkpoint_of_the_wrong_shape_is_a_one_line_error(
    tmp_path: Path, document: Any, problem: str
) -> None:
    """JSON that is not a checkpoint gives one line saying what is wrong and the fix."""
    store = _store(tmp_path / "checkpoint.json")
    store.path.write_bytes(orjson.dumps(document))
    with pytest.raises(CheckpointError, match=rf"is not a driftwarden checkpoint \({problem}"):
        store.load()


def test_unreadable_checkpoint_is_a_one_line_error(tmp_path: Path) -> None:
    """A checkpoint path that cannot be read gives one line naming it."""
    store = _store(tmp_path / "checkpoint.json")
    store.path.mkdir()
    with pytest.raises(CheckpointError) as error:
        store.load()
    assert str(error.value) == (
        f"cannot read checkpoint {store.path} (Is a directory); check its permissions"
    )


def test_offsets_must_be_keyed_by_topic_and_partition(tmp_path: Path) -> None:
    """Saving offsets under a key that is not topic:partition is refused before writing."""
    store = _store(tmp_path / "checkpoint.json")
    with pytest.raises(ValueError, match="offset key 'predictions' is not 'topic:partition'"):
        store.save(STATE, {"predictions": 7})
    assert not store.path.exists()


def test_offset_keys_round_trip() -> None:
    """A topic with dots and dashes and its partition survive offset_key and parse_offset_key."""
    assert parse_offset_key(offset_key("ml.car-loan_predictions", 11)) == (
        "ml.car-loan_predictions",
        11,
    )


@pytest.mark.parametrize("key", [":3", "predictions:", "predictions:x"])
def test_an_offset_key_needs_a_topic_and_a_numeric_partition(key: str) -> None:
    """A key without a topic, or whose partition is not a number, is refused with the fix."""
    with pytest.raises(ValueError, match=rf"^offset key '{key}' is not 'topic:partition'"):
        parse_offset_key(key)


@pytest.mark.parametrize("offset", [True, "7", 7.0])
def test_an_offset_that_is_not_an_int_is_refused_before_writing(
    tmp_path: Path, offset: Any
) -> None:
    """Saving an offset that is a bool, text or float is refused, naming the key and value."""
    store = _store(tmp_path / "checkpoint.json")
    with pytest.raises(ValueError, match=rf"^offset of p:0 must be an int, got {offset!r}$"):
        store.save(STATE, {"p:0": offset})
    assert not store.path.exists()


def test_the_temporary_file_is_written_beside_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save writes .checkpoint.json.*.tmp in the target's folder, where leftovers are swept."""
    store = _store(tmp_path / "checkpoint.json")
    renamed: list[Path] = []
    real_replace = os.replace

    def observing_replace(src: str, dst: str) -> None:
        renamed.append(Path(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", observing_replace)
    store.save(STATE, {"p:0": 1})
    (temporary,) = renamed
    assert temporary.parent == tmp_path
    assert temporary.name.startswith(".checkpoint.json.")
    assert temporary.name.endswith(".tmp")
