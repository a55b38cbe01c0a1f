"""Configuration: YAML, environment overrides and one-line errors."""

from pathlib import Path
from typing import get_args

import pytest

from monitor.config import EventPart, load_settings
from monitor.decode.config import SCALAR_FIELDS
from monitor.errors import ConfigError

MINIMAL = "models:\n  - name: car-loan\n    baseline: car-loan.json\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "driftwarden.yaml"
    path.write_text(text)
    return path


def test_minimal_file_gets_defaults(tmp_path: Path) -> None:
    """A file naming only a model gets hourly windows and PSI 0.1/0.25 thresholds."""
    settings = load_settings(_write(tmp_path, MINIMAL))
    assert settings.windows.size == 3_600_000
    assert (settings.alerts.drift.warning, settings.alerts.drift.intervention) == (0.1, 0.25)


def test_baseline_path_is_relative_to_the_file(tmp_path: Path) -> None:
    """Baseline paths in the file resolve against the file's folder."""
    settings = load_settings(_write(tmp_path, MINIMAL))
    assert settings.models[0].baseline == tmp_path / "car-loan.json"


def test_environment_overrides_nested_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DRIFTWARDEN_WINDOWS__SIZE overrides windows.size from the file."""
    monkeypatch.setenv("DRIFTWARDEN_WINDOWS__SIZE", "30m")
    assert load_settings(_write(tmp_path, MINIMAL)).windows.size == 1_800_000


def test_unknown_field_names_field_and_fix(tmp_path: Path) -> None:
    """A misspelt field gets one line naming it and the fix."""
    with pytest.raises(
        ConfigError, match=r"'windows.sise' is unknown; remove it or check its spelling"
    ):
        load_settings(_write(tmp_path, MINIMAL + "windows:\n  sise: 1h\n"))


def test_flat_file_columns_name_parts_of_an_event(tmp_path: Path) -> None:
    """fields.columns takes only the parts of an event, and names them when given another."""
    with pytest.raises(ConfigError, match=r"'fields.columns.score.*'prediction', 'label'"):
        load_settings(_write(tmp_path, MINIMAL + "fields:\n  columns: {score: y}\n"))
    assert get_args(EventPart) == SCALAR_FIELDS


def test_bad_duration_says_how_to_write_one(tmp_path: Path) -> None:
    """An unparsable duration names the field and shows valid forms."""
    with pytest.raises(ConfigError, match=r"'windows.size'.*30s, 5m, 1h"):
        load_settings(_write(tmp_path, MINIMAL + "windows:\n  size: soon\n"))


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    """Broken YAML reports the line to fix."""
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d"):
        load_settings(_write(tmp_path, "models: [\n  - name: x\n"))


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    """A config path that does not exist says so."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml")


def test_missing_models_is_required(tmp_path: Path) -> None:
    """A file without models says the field is required."""
    with pytest.raises(ConfigError, match="'models' is required"):
        load_settings(_write(tmp_path, "windows:\n  size: 1h\n"))


def test_thresholds_must_be_ordered(tmp_path: Path) -> None:
    """An intervention threshold below the warning threshold is refused."""
    text = MINIMAL + "alerts:\n  unseen:\n    warning: 0.5\n    intervention: 0.1\n"
    with pytest.raises(ConfigError, match="intervention must be at least warning"):
        load_settings(_write(tmp_path, text))


def test_exchange_needs_a_group_instance_id(tmp_path: Path) -> None:
    """Running the stages apart without a static member id is refused with the fix."""
    text = MINIMAL + "exchange:\n  enabled: true\nkafka:\n  prediction_topics: [p]\n"
    with pytest.raises(ConfigError, match=r"exchange\.enabled needs kafka\.group_instance_id"):
        load_settings(_write(tmp_path, text))


def test_configuration_reference_doc_is_current() -> None:
    """docs/configuration.md is exactly what `driftwarden config reference` prints."""
    from monitor.config_reference import render_reference

    document = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
    assert document.read_text() == render_reference(), (
        "run: driftwarden config reference > docs/configuration.md"
    )


def test_environment_sets_a_list_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DRIFTWARDEN_SEGMENTS__FIELDS takes a JSON list."""
    monkeypatch.setenv("DRIFTWARDEN_SEGMENTS__FIELDS", '["platform", "region"]')
    assert load_settings(_write(tmp_path, MINIMAL)).segments.fields == ("platform", "region")


def test_kafka_secrets_are_masked_when_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SASL password from the environment reaches the client options but never the dump."""
    monkeypatch.setenv("DRIFTWARDEN_KAFKA__SASL_PASSWORD", "hunter2")
    text = (
        MINIMAL
        + "kafka:\n  security_protocol: SASL_SSL\n"
        + "  sasl_mechanism: SCRAM-SHA-512\n  sasl_username: dw\n"
    )
    settings = load_settings(_write(tmp_path, text))
    assert settings.kafka is not None
    assert settings.kafka.client_options()["sasl_plain_password"] == "hunter2"
    assert "hunter2" not in settings.model_dump_json()


def test_kafka_password_can_come_from_a_file(tmp_path: Path) -> None:
    """sasl_password_file is read when the client options are built."""
    (tmp_path / "pw").write_text("s3cret\n")
    text = (
        MINIMAL
        + "kafka:\n  security_protocol: SASL_PLAINTEXT\n  sasl_mechanism: PLAIN\n"
        + f"  sasl_username: dw\n  sasl_password_file: {tmp_path / 'pw'}\n"
    )
    settings = load_settings(_write(tmp_path, text))
    assert (
        settings.kafka is not None
        and settings.kafka.client_options()["sasl_plain_password"] == "s3cret"
    )


def test_sasl_without_a_mechanism_is_refused(tmp_path: Path) -> None:
    """SASL_SSL without sasl_mechanism and sasl_username names what to add."""
    with pytest.raises(ConfigError, match="needs sasl_mechanism and sasl_username"):
        load_settings(_write(tmp_path, MINIMAL + "kafka:\n  security_protocol: SASL_SSL\n"))
