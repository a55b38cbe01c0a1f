"""The alert state machine of one check."""

from monitor.levels import CheckInput, CheckState, step
from monitor.types import Level


def _run(values: list[float], *, consecutive: int = 2, hysteresis: float = 0.2) -> list[str]:
    state = CheckState()
    return [
        step(
            state,
            CheckInput("f", "psi", v, 0.1, 0.25, True),
            consecutive=consecutive,
            hysteresis=hysteresis,
        ).after.value
        for v in values
    ]


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
