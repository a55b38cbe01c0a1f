"""The baseline file: round trips, digest, validation messages and reference look-ups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest

from baselines.binning import NumericLayout
from baselines.build import build_baseline
from baselines.codec import FORMAT, canonical_digest
from baselines.errors import BaselineError
from baselines.values import Baseline, NumericSummary

REBUILD = "rebuild it with `driftwarden baseline build`"


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    rng = np.random.default_rng(7)
    rows = 600
    platform = np.where(np.arange(rows) < 400, "ios", "android")
    score = rng.random(rows)
    table = pa.table(
        {
            "amount": rng.normal(100.0, 15.0, rows),
            "country": rng.choice(["FR", "DE", "US", "IT"], rows),
            "platform": platform,
            "score": score,
            "label": (rng.random(rows) < score).astype(np.int64),
        }
    )
    return build_baseline(
        table,
        model="car-loan",
        prediction="score",
        segments=["platform"],
        top_k=2,
        window_sizes=(50, 500),
        replicates=20,
    )


def saved(baseline: Baseline, tmp_path: Path) -> Path:
    path = tmp_path / "baseline.json"
    baseline.save(path)
    return path


def rewrite(path: Path, edit: Any) -> None:
    """Apply ``edit`` to the stored document and re-sign it (a well-formed but wrong file)."""
    doc = orjson.loads(path.read_bytes())
    edit(doc)
    doc.pop("digest")
    doc["digest"] = canonical_digest(doc)
    path.write_bytes(orjson.dumps(doc))


def test_save_then_load_gives_an_equal_baseline(baseline: Baseline, tmp_path: Path) -> None:
    """Every field survives the JSON round trip."""
    loaded = Baseline.load(saved(baseline, tmp_path))
    assert loaded == baseline
    assert loaded.to_dict() == baseline.to_dict()
    assert loaded.digest == baseline.digest


def test_file_starts_with_format_and_digest_of_the_canonical_content(
    baseline: Baseline, tmp_path: Path
) -> None:
    """``digest`` is the sha256 of the sorted-key document without the digest."""
    doc = orjson.loads(saved(baseline, tmp_path).read_bytes())
    assert list(doc)[:2] == ["format", "digest"]
    assert doc["format"] == FORMAT == "driftwarden.baseline/1"
    digest = doc.pop("digest")
    assert digest == canonical_digest(doc) == baseline.digest
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64


def test_edited_file_fails_the_digest_check(baseline: Baseline, tmp_path: Path) -> None:
    """Changing one count without re-signing is reported as an edited or corrupted file."""
    path = saved(baseline, tmp_path)
    doc = orjson.loads(path.read_bytes())
    doc["features"][0]["counts"][1] += 1
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(BaselineError) as caught:
        Baseline.load(path)
    assert str(caught.value) == (
        f"baseline file {path} does not match its digest: the file was edited or corrupted;"
        f" {REBUILD}"
    )


def test_unknown_format_says_which_formats_are_readable(baseline: Baseline, tmp_path: Path) -> None:
    """A future or foreign format names the formats this version reads."""
    path = saved(baseline, tmp_path)
    rewrite(path, lambda doc: doc.update(format="driftwarden.baseline/9"))
    with pytest.raises(BaselineError) as caught:
        Baseline.load(path)
    assert str(caught.value) == (
        f"baseline file {path} has format 'driftwarden.baseline/9', but this version of"
        f" driftwarden reads only driftwarden.baseline/1; {REBUILD}"
    )


def test_missing_file_is_reported(tmp_path: Path) -> None:
    """A path without a file points at the build command."""
    with pytest.raises(BaselineError, match="does not exist; check the path or build it"):
        Baseline.load(tmp_path / "missing.json")


def test_unreadable_path_is_reported(tmp_path: Path) -> None:
    """A path that cannot be read (here a directory) says so in one line."""
    with pytest.raises(BaselineError, match=r"cannot read baseline file .*check the path"):
        Baseline.load(tmp_path)


def test_invalid_json_is_reported(tmp_path: Path) -> None:
    """Bytes that are not JSON are rejected before anything else."""
    path = tmp_path / "baseline.json"
    path.write_bytes(b'{"format": ')
    with pytest.raises(BaselineError, match=r"is not valid JSON \(.*\); rebuild it"):
        Baseline.load(path)


def test_json_that_is_not_an_object_is_reported(tmp_path: Path) -> None:
    """A JSON array is not a baseline."""
    path = tmp_path / "baseline.json"
    path.write_bytes(b"[]")
    with pytest.raises(BaselineError, match="is not a JSON object"):
        Baseline.load(path)


@pytest.mark.parametrize(
    ("edit", "field", "problem"),
    [
        (
            lambda d: d["features"][0]["bins"].pop("edges"),
            "features[0].bins.edges",
            "Field required",
        ),
        (
            lambda d: d["features"][1]["bins"].update(vocabulary="FR"),
            "features[1].bins.vocabulary",
            "Input should be a valid list",
        ),
        (lambda d: d.update(rows="600"), "rows", "Input should be a valid integer"),
        (
            lambda d: d["segments"]["platform=ios"]["features"][0].pop("counts"),
            "segments.platform=ios.features[0].counts",
            "Field required",
        ),
        (
            lambda d: d["features"][0]["counts"].pop(),
            "features[0].counts",
            "needs 13 non-negative slot counts for its bins, got 12",
        ),
        (
            lambda d: d["features"][0]["bins"].update(edges=[2.0, 1.0, 3.0]),
            "features[0].bins.edges",
            "must be strictly increasing",
        ),
        (
            lambda d: d["calibration"]["statistics"]["psi"]["amount"].pop(),
            "calibration.statistics.psi.amount",
            "needs one summary per window size [50, 500]",
        ),
        (lambda d: d["prediction"].update(kind="ordinal"), "prediction", "Input tag 'ordinal'"),
    ],
)
def test_invalid_fields_are_named_by_their_path(
    baseline: Baseline, tmp_path: Path, edit: Any, field: str, problem: str
) -> None:
    """A well-signed file with a wrong field names the field path and the problem."""
    path = saved(baseline, tmp_path)
    rewrite(path, edit)
    with pytest.raises(BaselineError) as caught:
        Baseline.load(path)
    message = str(caught.value)
    assert message.startswith(f"baseline file {path} has an invalid field {field} ({problem}")
    assert message.endswith(REBUILD)


def test_saving_into_a_missing_directory_is_reported(baseline: Baseline, tmp_path: Path) -> None:
    """The output directory must exist."""
    with pytest.raises(BaselineError, match=r"cannot write baseline .*directory exists"):
        baseline.save(tmp_path / "no" / "such" / "dir" / "b.json")


def test_segment_references_fall_back_to_the_overall_one(baseline: Baseline) -> None:
    """Known segment keys give the slice's reference, anything else the overall one."""
    ios = baseline.for_segment("platform=ios")
    assert ios.rows == 400
    assert baseline.feature_for("amount", "platform=ios") is ios.features["amount"]
    assert baseline.feature_for("amount", "platform=web") is baseline.features["amount"]
    assert baseline.for_segment(None).features is baseline.features
    assert baseline.for_segment("").performance == baseline.performance


def test_feature_exposes_the_slots_the_windows_need(baseline: Baseline) -> None:
    """Slot indices, centers and scale follow the feature's layout."""
    amount, country = baseline.features["amount"], baseline.features["country"]
    assert isinstance(amount.layout, NumericLayout)
    assert isinstance(amount.summary, NumericSummary)
    k = amount.layout.n_bins
    assert (amount.n_slots, amount.missing_slot, amount.out_of_range_slots) == (
        k + 3,
        k + 2,
        (0, k + 1),
    )
    assert amount.unseen_slot is None and amount.centers is not None
    assert amount.scale == amount.summary.std == pytest.approx(15.0, rel=0.1)
    assert (country.n_slots, country.unseen_slot, country.missing_slot) == (5, 3, 4)
    assert country.out_of_range_slots == () and country.centers is None
    assert country.slots(pa.array(["FR", None, "XX"])).tolist()[1:] == [4, 3]
    assert "wasserstein" in amount.statistics and "wasserstein" not in country.statistics


def test_null_summaries_are_listed_by_statistic_and_subject(baseline: Baseline) -> None:
    """The prediction is calibrated under ``__prediction__``, one summary per window size."""
    summaries = baseline.null_summaries()
    assert set(summaries["psi"]) == {"amount", "country", "__prediction__"}
    assert [s.n for s in summaries["psi"]["amount"]] == [50, 500]
    assert "country" not in summaries["ks"]
