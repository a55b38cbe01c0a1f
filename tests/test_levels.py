"""The alert state machine of one check."""

from monitor.levels import CheckInput, CheckState, Step, step
from monitor.types import Level


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
