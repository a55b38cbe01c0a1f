"""Load and validate the baselines a configuration names: per model, and per model version."""

from __future__ import annotations

from collections.abc import Mapping

from baselines.errors import BaselineError
from baselines.values import Baseline
from monitor.config import Settings
from monitor.errors import ConfigError
from monitor.window.slot_layout import same_bins


def load_baselines(settings: Settings) -> dict[str, Baseline]:
    """Load and validate every configured model's baseline; the model names must match."""
    out: dict[str, Baseline] = {}
    for model in settings.models:
        try:
            baseline = Baseline.load(model.baseline)
        except BaselineError as exc:
            raise ConfigError(f"model {model.name!r}: {exc}") from None
        if baseline.model != model.name:
            raise ConfigError(
                f"model {model.name!r}: baseline {model.baseline} was built for model "
                f"{baseline.model!r}; point `baseline` at that model's file or rename the model"
            )
        out[model.name] = baseline
    return out


def load_version_baselines(
    settings: Settings, baselines: Mapping[str, Baseline]
) -> dict[str, dict[str, Baseline]]:
    """Load every configured per-version baseline; each must share its model baseline's bins."""
    out: dict[str, dict[str, Baseline]] = {}
    for model in settings.models:
        for version, path in sorted(model.versions.items()):
            where = f"model {model.name!r} version {version!r}"
            try:
                baseline = Baseline.load(path)
            except BaselineError as exc:
                raise ConfigError(f"{where}: {exc}") from None
            if baseline.model != model.name:
                raise ConfigError(
                    f"{where}: baseline {path} was built for model {baseline.model!r}; point "
                    "the version at a baseline of this model"
                )
            if not same_bins(baseline, baselines[model.name]):
                raise ConfigError(
                    f"{where}: baseline {path} does not use the bins of {model.baseline}; "
                    f"rebuild it with `driftwarden baseline build --bins-from {model.baseline}`"
                )
            out.setdefault(model.name, {})[version] = baseline
    return out
