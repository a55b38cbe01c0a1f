"""The alert state machine of one check."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from monitor.evaluate.levels import LEVELS, OK, CheckInput, CheckState, Level, Step, step, step_all


def _steps(values: list[float], *, consecutive: int = 2, hysteresis: float = 0.2) -> list[Step]:
    """One step per window of check psi (warning 0.1, intervention 0.25)."""
    state = CheckState()
    return [
        step(
            state,
            CheckInput("f", "psi", v, 0.1, 0.25, True),
            consecutive=consecutive,
            hysteresis=hysteresis,
        )
        for v in values
    ]


def _run(values: list[float], *, consecutive: int = 2, hysteresis: float = 0.2) -> list[str]:
    return [s.after.value for s in _steps(values, consecutive=consecutive, hysteresis=hysteresis)]


def _last_step(values: list[float]) -> Step:
    """The step of the last value, raising after one window (consecutive=1, hysteresis 0.2)."""
    state = CheckState()
    steps = [
        step(state, CheckInput("f", "psi", v, 0.1, 0.25, True), consecutive=1, hysteresis=0.2)
        for v in values
    ]
    return steps[-1]


def test_raises_only_after_consecutive_windows() -> None:
    """A single window above threshold does not raise when two are required."""
    assert _run([0.3, 0.0, 0.3, 0.3]) == ["ok", "ok", "ok", "intervention"]


def test_warning_band_raises_warning() -> None:
    """Values between the warning and intervention thresholds raise a warning."""
    assert _run([0.15, 0.2]) == ["ok", "warning"]


def test_intervention_streak_counts_warning_windows_too() -> None:
    """A warning window then intervention windows raise warning, then intervention."""
    assert _run([0.15, 0.3, 0.3]) == ["ok", "warning", "intervention"]


def test_hysteresis_keeps_level_just_below_threshold() -> None:
    """An intervention stays while the value is above threshold × (1 − hysteresis)."""
    assert _run([0.3, 0.3, 0.21, 0.19]) == ["ok", "intervention", "intervention", "warning"]


def test_clears_to_ok_below_warning_margin() -> None:
    """A warning clears once the value falls below warning × (1 − hysteresis)."""
    assert _run([0.15, 0.15, 0.09, 0.07]) == ["ok", "warning", "warning", "ok"]


def test_insufficient_data_leaves_state_untouched() -> None:
    """A window with too few events reports insufficient_data and keeps the level and streaks."""
    state = CheckState()
    high = CheckInput("f", "psi", 0.3, 0.1, 0.25, True)
    thin = CheckInput("f", "psi", 0.0, 0.1, 0.25, False)
    step(state, high, consecutive=2, hysteresis=0.2)
    reported = step(state, thin, consecutive=2, hysteresis=0.2)
    assert reported.reported is Level.INSUFFICIENT_DATA
    assert step(state, high, consecutive=2, hysteresis=0.2).after is Level.INTERVENTION


def test_transition_threshold_is_the_tier_entered() -> None:
    """A raise reports the threshold of the tier it entered."""
    state = CheckState()
    result = step(
        state, CheckInput("f", "psi", 0.3, 0.1, 0.25, True), consecutive=1, hysteresis=0.2
    )
    assert (result.before, result.after, result.threshold) == (Level.OK, Level.INTERVENTION, 0.25)


def _fall(values: list[float]) -> tuple[str, str, float]:
    """(from, to, threshold) of the last window, one window to raise, hysteresis one half."""
    last = _steps(values, consecutive=1, hysteresis=0.5)[-1]
    return (last.before.value, last.after.value, last.threshold)


def test_intervention_falls_to_warning_inside_the_warning_margin() -> None:
    """Below warning but above warning × (1 − hysteresis), an intervention drops to warning."""
    assert _run([0.3, 0.3, 0.09]) == ["ok", "intervention", "warning"]


def test_falling_to_warning_reports_the_intervention_margin() -> None:
    """Intervention → warning reports intervention × (1 − hysteresis) as its threshold."""
    assert _fall([0.3, 0.11]) == ("intervention", "warning", 0.125)


def test_falling_to_ok_reports_the_warning_margin() -> None:
    """Warning → ok and intervention → ok report warning × (1 − hysteresis) as the threshold."""
    assert _fall([0.2, 0.01]) == ("warning", "ok", 0.05)
    assert _fall([0.3, 0.01]) == ("intervention", "ok", 0.05)


def test_a_value_at_the_warning_threshold_counts_as_above_it() -> None:
    """A value equal to the warning threshold raises a warning: the threshold is inclusive."""
    assert _run([0.1, 0.1]) == ["ok", "warning"]


def test_a_value_at_the_intervention_threshold_counts_as_above_it() -> None:
    """A value equal to the intervention threshold raises an intervention."""
    assert _run([0.25, 0.25]) == ["ok", "intervention"]


def test_intervention_holds_at_exactly_its_hysteresis_margin() -> None:
    """An intervention stays while the value equals intervention × (1 − hysteresis) exactly."""
    assert _run([0.3, 0.3, 0.25 * (1 - 0.2)]) == ["ok", "intervention", "intervention"]


def test_warning_holds_at_exactly_its_hysteresis_margin() -> None:
    """A warning stays while the value equals warning × (1 − hysteresis) exactly."""
    assert _run([0.15, 0.15, 0.1 * (1 - 0.2)]) == ["ok", "warning", "warning"]


def test_a_window_with_enough_events_reports_the_level_it_ends_in() -> None:
    """With enough events the reported level is the level after the window."""
    assert _last_step([0.3]).reported is Level.INTERVENTION


def test_insufficient_data_is_a_step_from_the_held_level_to_itself() -> None:
    """A window with too few events reports a step from the held level to itself, threshold 0."""
    state = CheckState(level=Level.WARNING)
    thin = CheckInput("f", "psi", 0.0, 0.1, 0.25, False)
    assert step(state, thin, consecutive=2, hysteresis=0.2) == Step(
        Level.INSUFFICIENT_DATA, Level.WARNING, Level.WARNING, 0.0
    )


def test_raise_to_warning_reports_the_warning_threshold() -> None:
    """A raise from ok to warning reports the warning threshold."""
    result = _last_step([0.15])
    assert (result.before, result.after, result.threshold) == (Level.OK, Level.WARNING, 0.1)


def test_fall_to_warning_reports_the_intervention_margin_it_fell_below() -> None:
    """A fall from intervention to warning reports intervention × (1 − hysteresis)."""
    result = _last_step([0.3, 0.15])
    assert (result.before, result.after, result.threshold) == (
        Level.INTERVENTION,
        Level.WARNING,
        0.25 * (1 - 0.2),
    )


def test_clear_to_ok_reports_the_warning_margin_it_fell_below() -> None:
    """A clear from warning to ok reports warning × (1 − hysteresis)."""
    result = _last_step([0.15, 0.05])
    assert (result.before, result.after, result.threshold) == (
        Level.WARNING,
        Level.OK,
        0.1 * (1 - 0.2),
    )


_VALUES = st.sampled_from([0.0, 0.05, 0.08, 0.1, 0.125, 0.2, 0.25, 0.3, float("nan")])
_CHECK = st.tuples(_VALUES, st.sampled_from([(0.1, 0.25), (0.05, 0.2), (0.2, 0.2)]), st.booleans())


@given(
    st.lists(st.lists(_CHECK, min_size=1, max_size=12), min_size=1, max_size=6),
    st.integers(1, 3),
    st.sampled_from([0.0, 0.2, 0.5]),
)
def test_stepping_arrays_equals_stepping_each_check(
    windows: list[list[tuple[float, tuple[float, float], bool]]],
    consecutive: int,
    hysteresis: float,
) -> None:
    """step_all advances every check as step does, window after window: the same reported,
    before and after levels, the same margin reported and the same streaks."""
    width = max(len(w) for w in windows)
    states = [CheckState() for _ in range(width)]
    level, above_warning, above_intervention = (
        np.full(width, OK),
        np.zeros(width, np.int64),
        np.zeros(width, np.int64),
    )
    for window in windows:
        checks = [window[i % len(window)] for i in range(width)]
        expected = [
            step(
                state,
                CheckInput("f", "psi", v, w, i, enough),
                consecutive=consecutive,
                hysteresis=hysteresis,
            )
            for state, (v, (w, i), enough) in zip(states, checks, strict=True)
        ]
        arrays = tuple(
            np.array(column)
            for column in zip(*[(v, w, i, enough) for v, (w, i), enough in checks], strict=True)
        )
        steps = step_all(
            level,
            above_warning,
            above_intervention,
            arrays,  # type: ignore[arg-type]
            consecutive=consecutive,
            hysteresis=hysteresis,
        )
        got = [
            Step(LEVELS[r], LEVELS[b], LEVELS[a], t)
            for r, b, a, t in zip(
                steps.reported.tolist(),
                steps.before.tolist(),
                steps.after.tolist(),
                steps.threshold.tolist(),
                strict=True,
            )
        ]
        assert got == expected
        level, above_warning, above_intervention = (
            steps.after,
            steps.above_warning,
            steps.above_intervention,
        )
        assert [(s.level, s.above_warning, s.above_intervention) for s in states] == [
            (LEVELS[a], w, i)
            for a, w, i in zip(
                level.tolist(), above_warning.tolist(), above_intervention.tolist(), strict=True
            )
        ]
