"""Specification of the online drift detectors in detectors/online."""

from __future__ import annotations

import inspect
import itertools
import statistics
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import drift
from river.drift import binary

from detectors.online import (
    DETECTORS,
    CUSUMNumpy,
    DDMNumpy,
    DriftDetector,
    PageHinkleyNumpy,
    RiverDetector,
    detector_from_state,
    make_detector,
    river_version,
)

BINARY = {"ddm", "eddm", "hddm_a", "hddm_w", "ddm_np"}
RIVER_TYPES: dict[str, Any] = {
    "adwin": drift.ADWIN,
    "kswin": drift.KSWIN,
    "page_hinkley": drift.PageHinkley,
    "ddm": binary.DDM,
    "eddm": binary.EDDM,
    "hddm_a": binary.HDDMA,
    "hddm_w": binary.HDDMW,
}
# Parameters that make each detector fire often on the test streams (KSWIN needs a seed).
BUSY_PARAMS: dict[str, dict[str, Any]] = {
    "adwin": {"delta": 0.01},
    "kswin": {"alpha": 0.001, "seed": 7},
    "page_hinkley": {"threshold": 10.0, "min_instances": 10},
    "ddm": {},
    "eddm": {},
    "hddm_a": {"two_sided_test": True},
    "hddm_w": {"two_sided_test": True},
    "page_hinkley_np": {"threshold": 10.0, "min_instances": 10},
    "ddm_np": {},
    "cusum": {"min_instances": 10, "h": 3.0},
}


def mean_path(rng: np.random.Generator, n: int, levels: int) -> npt.NDArray[np.float64]:
    """A path through random levels in [0, 1], stepping to the next abruptly or by a ramp."""
    spacing = n / levels
    edges = (np.arange(1, levels) + rng.uniform(-0.2, 0.2, levels - 1)) * spacing
    widths = rng.choice([1.0, spacing / 4], size=levels - 1)
    values = rng.uniform(0.0, 1.0, size=levels)
    knots_x = np.column_stack((edges, edges + widths)).ravel()
    knots_y = np.column_stack((values[:-1], values[1:])).ravel()
    return np.interp(np.arange(n), knots_x, knots_y)


def gaussian_stream(seed: int, n: int, noise: float = 1.0) -> npt.NDArray[np.float64]:
    """Gaussian noise around a mean with abrupt and gradual shifts of up to 6."""
    rng = np.random.default_rng(seed)
    return rng.normal(6.0 * mean_path(rng, n, 30), noise)


def error_stream(seed: int, n: int) -> npt.NDArray[np.float64]:
    """0/1 error indicators whose rate moves, abruptly and gradually, between 0.02 and 0.6."""
    rng = np.random.default_rng(seed)
    rate = 0.02 + 0.58 * mean_path(rng, n, 30)
    return (rng.random(n) < rate).astype(np.float64)


def stream_for(name: str, seed: int, n: int) -> npt.NDArray[np.float64]:
    return error_stream(seed, n) if name in BINARY else gaussian_stream(seed, n)


def river_run(detector: Any, values: npt.ArrayLike) -> tuple[list[int], list[bool]]:
    """River's own loop: the detection indices and the warning flag after each value."""
    hits, warnings = [], []
    for i, x in enumerate(np.asarray(values).tolist()):
        detector.update(x)
        if detector.drift_detected:
            hits.append(i)
        warnings.append(bool(getattr(detector, "warning_detected", False)))
    return hits, warnings


def reference_cusum(
    values: npt.ArrayLike,
    *,
    target: float | None = None,
    sigma: float | None = None,
    k: float = 0.5,
    h: float = 5.0,
    min_instances: int = 30,
    mode: str = "both",
) -> list[int]:
    """Textbook tabular CUSUM, one value at a time, with the reference re-taken after a drift."""
    hits: list[int] = []
    reference: list[float] = []
    mean, std = target, sigma
    upper = lower = 0.0
    for i, x in enumerate(np.asarray(values, dtype=float).tolist()):
        if mean is None or std is None:
            reference.append(x)
            if len(reference) == min_instances:
                estimated_std = statistics.stdev(reference) if sigma is None else sigma
                if estimated_std > 0:
                    mean = statistics.fmean(reference) if target is None else target
                    std = estimated_std
                reference = []
            continue
        z = (x - mean) / std
        upper = max(0.0, upper + z - k)
        lower = max(0.0, lower - z - k)
        if (mode != "down" and upper > h) or (mode != "up" and lower > h):
            hits.append(i)
            mean, std, upper, lower = target, sigma, 0.0, 0.0
    return hits


def through_json(state: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(orjson.dumps(state))
    return loaded


# --- numpy Page-Hinkley and DDM against river ----------------------------------------------

PAGE_HINKLEY_PARAMS = [
    {},
    {"min_instances": 10, "delta": 0.01, "threshold": 10.0, "alpha": 0.999, "mode": "up"},
    {"min_instances": 50, "threshold": 5.0, "alpha": 1.0, "mode": "down"},
    {"delta": 0.1, "threshold": 20.0, "alpha": 0.99},
]


@pytest.mark.parametrize("params", PAGE_HINKLEY_PARAMS)
@pytest.mark.parametrize(("seed", "noise"), [(1, 1.0), (2, 0.3), (3, 2.0)])
def test_page_hinkley_numpy_detects_where_river_does(
    params: dict[str, Any], seed: int, noise: float
) -> None:
    """PageHinkleyNumpy reports exactly river's PageHinkley detection indices on 1e5 values."""
    values = gaussian_stream(seed, 100_000, noise)
    expected, _ = river_run(drift.PageHinkley(**params), values)
    assert len(expected) >= 5
    assert PageHinkleyNumpy(**params).update_many(values).tolist() == expected


DDM_PARAMS = [
    {},
    {"warm_start": 10, "warning_threshold": 1.5, "drift_threshold": 2.0},
    {"warm_start": 100, "warning_threshold": 2.5, "drift_threshold": 4.0},
]


@pytest.mark.parametrize("params", DDM_PARAMS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ddm_numpy_detects_where_river_does(params: dict[str, Any], seed: int) -> None:
    """DDMNumpy reports exactly river's DDM detection indices on 1e5 error indicators."""
    values = error_stream(seed, 100_000)
    expected, _ = river_run(binary.DDM(**params), values)
    assert len(expected) >= 5
    assert DDMNumpy(**params).update_many(values).tolist() == expected


@pytest.mark.parametrize("params", DDM_PARAMS)
def test_ddm_numpy_warns_when_river_does_after_every_chunk(params: dict[str, Any]) -> None:
    """After each chunk fed to update_many, DDMNumpy's flags equal river's at that value."""
    values = error_stream(4, 30_000)
    river_hits, warnings = river_run(binary.DDM(**params), values)
    drifts = set(river_hits)
    assert 0 < sum(warnings) < len(warnings)
    detector = DDMNumpy(**params)
    ends = np.unique(np.random.default_rng(4).integers(1, values.size, size=2000)).tolist()
    for start, end in itertools.pairwise([0, *ends, values.size]):
        detector.update_many(values[start:end])
        assert detector.warning_detected == warnings[end - 1]
        assert detector.drift_detected == (end - 1 in drifts)


def test_ddm_numpy_warns_when_river_does_value_by_value() -> None:
    """Fed one value at a time, DDMNumpy's warning flag equals river's after every value."""
    values = error_stream(5, 20_000)
    expected_hits, expected_warnings = river_run(binary.DDM(), values)
    hits, warnings = river_run(DDMNumpy(), values)
    assert sum(expected_warnings) > 0
    assert (hits, warnings) == (expected_hits, expected_warnings)


@pytest.mark.parametrize("min_instances", [1, 30, 200])
def test_page_hinkley_numpy_waits_min_instances_after_each_reset(min_instances: int) -> None:
    """Every detection comes at least min_instances values after the previous one."""
    values = gaussian_stream(6, 50_000, noise=3.0)
    detector = PageHinkleyNumpy(min_instances=min_instances, threshold=5.0)
    hits = detector.update_many(values)
    assert hits.size > 10
    assert hits[0] >= min_instances - 1
    assert np.diff(hits).min() >= min_instances


# --- CUSUM ----------------------------------------------------------------------------------

MONTGOMERY = [9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.20, 10.34, 9.03, 11.47,
              10.51, 9.40, 10.08, 9.37, 10.62, 10.31, 8.52, 10.84, 10.90, 9.33, 12.29, 11.50,
              10.60, 11.08, 10.38, 11.62, 11.31, 10.52]  # fmt: skip


def test_cusum_reproduces_montgomerys_tabular_cusum() -> None:
    """On Montgomery's Example 9.1 (target 10, sigma 1, k 0.5, h 5) C+ and C- match his table."""
    detector = CUSUMNumpy(target=10.0, sigma=1.0)
    upper, lower = [], []
    for x in MONTGOMERY[:29]:
        detector.update(x)
        upper.append(round(detector.upper_sum, 2))
        lower.append(round(detector.lower_sum, 2))
    assert upper == [0.0, 0.0, 0.0, 1.16, 2.82, 2.5, 0.04, 1.0, 0.0, 0.0, 0.0, 0.97, 0.98, 0.0,
                     0.0, 0.0, 0.12, 0.0, 0.0, 0.34, 0.74, 0.0, 1.79, 2.79, 2.89, 3.47, 3.35,
                     4.47, 5.28]  # fmt: skip
    assert lower == [0.05, 1.56, 1.77, 0.0, 0.0, 0.0, 1.46, 0.0, 0.3, 0.0, 0.47, 0.0, 0.0, 0.1,
                     0.0, 0.13, 0.0, 0.0, 0.98, 0.0, 0.0, 0.17, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                     0.0]  # fmt: skip
    assert CUSUMNumpy(target=10.0, sigma=1.0).update_many(MONTGOMERY).tolist() == [28]


CUSUM_PARAMS = [
    {},
    {"k": 0.25, "h": 8.0, "min_instances": 50, "mode": "up"},
    {"target": 3.0, "sigma": 1.0, "mode": "down"},
    {"sigma": 2.0, "h": 4.0},
    {"target": 2.0, "min_instances": 5, "k": 1.0, "h": 2.0},
]


@pytest.mark.parametrize("params", CUSUM_PARAMS)
@pytest.mark.parametrize("seed", [1, 2])
def test_cusum_detects_where_the_textbook_recursion_does(params: dict[str, Any], seed: int) -> None:
    """CUSUMNumpy reports exactly the pure-Python tabular CUSUM's detections on 1e5 values."""
    values = gaussian_stream(seed, 100_000)
    expected = reference_cusum(values, **params)
    assert len(expected) >= 5
    assert CUSUMNumpy(**params).update_many(values).tolist() == expected


def test_cusum_retakes_a_constant_reference() -> None:
    """A reference with no spread is dropped and the next min_instances values estimate sigma."""
    values = np.concatenate(([1.0] * 10, [0.0, 1.0] * 5, [0.5] * 20, [9.0]))
    assert CUSUMNumpy(min_instances=10).update_many(values).tolist() == [40]
    assert reference_cusum(values, min_instances=10) == [40]


@pytest.mark.parametrize(
    "params", [{"sigma": 0.0}, {"k": -1.0}, {"h": 0.0}, {"min_instances": 1}, {"mode": "left"}]
)
def test_cusum_rejects_meaningless_parameters(params: dict[str, Any]) -> None:
    """A zero sigma, negative slack, non-positive threshold, or unknown mode is refused."""
    with pytest.raises(ValueError, match=next(iter(params))):
        CUSUMNumpy(**params)


# --- chunking and checkpoints ---------------------------------------------------------------


@settings(max_examples=60)
@given(
    name=st.sampled_from(["page_hinkley_np", "ddm_np", "cusum"]),
    seed=st.integers(0, 2**32 - 1),
    cuts=st.lists(st.integers(0, 4000), max_size=10),
)
def test_numpy_detectors_agree_in_any_chunking(name: str, seed: int, cuts: list[int]) -> None:
    """Whole, chunked, or value by value: same detections and bit-identical final state."""
    values = stream_for(name, seed, 4000)
    whole = make_detector(name, **BUSY_PARAMS[name])
    expected = whole.update_many(values).tolist()

    chunked = make_detector(name, **BUSY_PARAMS[name])
    bounds = [0, *sorted(cuts), values.size]
    hits = [
        start + hit
        for start, end in itertools.pairwise(bounds)
        for hit in chunked.update_many(values[start:end]).tolist()
    ]

    stepped = make_detector(name, **BUSY_PARAMS[name])
    stepped_hits = [i for i, x in enumerate(values) if stepped.update(x).drift_detected]

    assert hits == stepped_hits == expected
    assert chunked.state() == stepped.state() == whole.state()


@pytest.mark.parametrize("name", sorted(DETECTORS))
@pytest.mark.parametrize("seed", [11, 12])
def test_a_detector_restored_from_json_state_continues_exactly(name: str, seed: int) -> None:
    """Checkpointing through orjson at a random point changes no detection."""
    n = 1500 if name == "kswin" else 6000
    values = stream_for(name, seed, n)
    whole = make_detector(name, **BUSY_PARAMS[name])
    uninterrupted = whole.update_many(values).tolist()
    assert len(uninterrupted) >= 2

    split = int(np.random.default_rng(seed).integers(1, n))
    first = make_detector(name, **BUSY_PARAMS[name])
    head = first.update_many(values[:split]).tolist()
    restored = detector_from_state(through_json(first.state()))
    tail = (restored.update_many(values[split:]) + split).tolist()

    assert type(restored) is type(first)
    assert head + tail == uninterrupted
    assert restored.state() == whole.state()


@settings(max_examples=40)
@given(
    name=st.sampled_from(["page_hinkley_np", "ddm_np", "cusum"]),
    seed=st.integers(0, 2**32 - 1),
    split=st.integers(0, 3000),
)
def test_numpy_detectors_restored_at_any_point_continue_exactly(
    name: str, seed: int, split: int
) -> None:
    """Through a JSON round trip anywhere, even mid-warm-up, a numpy detector continues exactly."""
    values = stream_for(name, seed, 3000)
    whole = make_detector(name, **BUSY_PARAMS[name])
    expected = whole.update_many(values).tolist()
    first = make_detector(name, **BUSY_PARAMS[name])
    head = first.update_many(values[:split]).tolist()
    restored = detector_from_state(through_json(first.state()))
    assert restored.state() == first.state()
    assert head + (restored.update_many(values[split:]) + split).tolist() == expected
    assert restored.state() == whole.state()


@pytest.mark.parametrize("name", sorted(RIVER_TYPES))
def test_river_backed_state_is_refused_under_another_river_version(name: str) -> None:
    """A checkpoint written with another river version is refused with a clear error."""
    saved = make_detector(name).state()
    saved["river_version"] = "0.1.0"
    with pytest.raises(ValueError, match=f"river 0.1.0, this is river {river_version()}"):
        detector_from_state(saved)


def test_only_adwin_and_hddm_w_states_are_pickled() -> None:
    """Detectors whose river state is plain attributes are saved as JSON, not pickle."""
    pickled = {name for name in RIVER_TYPES if "pickle" in make_detector(name).state()}
    assert pickled == {"adwin", "hddm_w"}


@pytest.mark.parametrize("name", sorted(set(RIVER_TYPES) - {"adwin", "hddm_w"}))
def test_json_states_cover_all_of_rivers_attributes(name: str) -> None:
    """Every river attribute that is not a parameter or a method is part of the saved state."""
    detector = make_detector(name, **BUSY_PARAMS[name])
    detector.update_many(stream_for(name, 3, 500))
    assert isinstance(detector, RiverDetector)
    inner = vars(detector._river)
    unsaved = {key for key in inner if key not in detector._saved and not callable(inner[key])}
    assert unsaved <= set(detector.params())


def test_state_of_another_detector_is_refused() -> None:
    """from_state of one class refuses the state of another, naming both."""
    state = make_detector("ddm_np").state()
    with pytest.raises(ValueError, match="'ddm_np', not 'page_hinkley_np'"):
        PageHinkleyNumpy.from_state(state)


# --- river-backed wrappers ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RIVER_TYPES))
def test_river_backed_detectors_detect_and_warn_as_river_does(name: str) -> None:
    """Each wrapper reports river's own detections and final warning on the same stream."""
    values = stream_for(name, 8, 1500 if name == "kswin" else 8000)
    river_detector = RIVER_TYPES[name](**BUSY_PARAMS[name])
    expected_hits, expected_warnings = river_run(river_detector, values)
    detector = make_detector(name, **BUSY_PARAMS[name])
    assert len(expected_hits) >= 2
    assert detector.update_many(values).tolist() == expected_hits
    assert detector.warning_detected == expected_warnings[-1]


@pytest.mark.parametrize("name", sorted(RIVER_TYPES))
def test_river_backed_detectors_take_rivers_parameters_and_defaults(name: str) -> None:
    """Each wrapper's constructor has river's parameter names and default values."""
    ours = inspect.signature(DETECTORS[name]).parameters
    theirs = inspect.signature(RIVER_TYPES[name]).parameters
    assert {k: p.default for k, p in ours.items()} == {k: p.default for k, p in theirs.items()}


@pytest.mark.parametrize(("numpy_name", "river_name"), [("page_hinkley_np", "page_hinkley"),
                                                        ("ddm_np", "ddm")])  # fmt: skip
def test_numpy_detectors_take_rivers_parameters_and_defaults(
    numpy_name: str, river_name: str
) -> None:
    """The numpy Page-Hinkley and DDM have river's parameter names and default values."""
    ours = inspect.signature(DETECTORS[numpy_name]).parameters
    theirs = inspect.signature(RIVER_TYPES[river_name]).parameters
    assert {k: p.default for k, p in ours.items()} == {k: p.default for k, p in theirs.items()}


def test_reset_forgets_everything_seen() -> None:
    """After reset a detector detects exactly as a fresh one does."""
    values = gaussian_stream(9, 5000)
    for name in ("adwin", "page_hinkley_np", "cusum"):
        fresh = make_detector(name, **BUSY_PARAMS[name]).update_many(values).tolist()
        detector = make_detector(name, **BUSY_PARAMS[name])
        detector.update_many(values[::-1])
        detector.reset()
        assert detector.update_many(values).tolist() == fresh


# --- input checks ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ddm", "ddm_np", "hddm_w"])
def test_binary_detectors_refuse_values_other_than_0_and_1(name: str) -> None:
    """Error-indicator detectors refuse 0.5 in update and say where in update_many."""
    detector = make_detector(name)
    with pytest.raises(ValueError, match="0/1"):
        detector.update(0.5)
    with pytest.raises(ValueError, match="index 2"):
        detector.update_many([0, 1, 2])


@pytest.mark.parametrize("name", ["adwin", "page_hinkley_np", "cusum"])
def test_detectors_refuse_non_finite_values(name: str) -> None:
    """NaN and infinities are refused, naming the index, before any state changes."""
    detector = make_detector(name)
    before = detector.state() if name != "adwin" else None
    with pytest.raises(ValueError, match="index 1 is not finite"):
        detector.update_many([1.0, float("nan")])
    with pytest.raises(ValueError, match="not finite"):
        detector.update(float("inf"))
    if before is not None:
        assert detector.state() == before


def test_update_many_refuses_a_2d_array() -> None:
    """Values must come as one flat sequence."""
    with pytest.raises(ValueError, match="1-D"):
        make_detector("page_hinkley_np").update_many(np.zeros((2, 2)))


# --- registry -------------------------------------------------------------------------------


def test_registry_names_every_detector_by_its_name_attribute() -> None:
    """DETECTORS holds the ten detectors, each under its own name."""
    assert sorted(DETECTORS) == sorted([*RIVER_TYPES, "page_hinkley_np", "ddm_np", "cusum"])
    assert all(cls.name == name for name, cls in DETECTORS.items())
    assert all(issubclass(cls, DriftDetector) for cls in DETECTORS.values())


def test_make_detector_lists_the_known_names_for_an_unknown_one() -> None:
    """An unknown name is refused with the list of known names."""
    with pytest.raises(ValueError, match="unknown detector 'adwn'; known detectors: adwin, cusum"):
        make_detector("adwn")


def test_make_detector_names_an_unknown_parameter() -> None:
    """An unknown parameter is refused, naming it and the accepted ones."""
    with pytest.raises(ValueError, match=r"'treshold'.*min_instances, delta, threshold"):
        make_detector("page_hinkley", treshold=3.0)


def test_make_detector_names_a_parameter_of_the_wrong_type() -> None:
    """A parameter of the wrong type is refused, naming it and the expected type."""
    with pytest.raises(ValueError, match="'h' of detector 'cusum' must be float, got '5'"):
        make_detector("cusum", h="5")
    with pytest.raises(ValueError, match="'seed' of detector 'kswin' must be int or None"):
        make_detector("kswin", seed=1.5)
    with pytest.raises(ValueError, match="'two_sided_test' of detector 'hddm_a' must be bool"):
        make_detector("hddm_a", two_sided_test="yes")


def test_make_detector_passes_on_rivers_own_parameter_errors() -> None:
    """River's own parameter checks surface as ValueError."""
    with pytest.raises(ValueError, match="alpha"):
        make_detector("eddm", alpha=0.5, beta=0.9)


def test_detector_from_state_refuses_an_unknown_name() -> None:
    """A state without a known detector name is refused with the known names."""
    with pytest.raises(ValueError, match="unknown detector 'nope'"):
        detector_from_state({"name": "nope"})
