"""The container image recipe, read statically: hadolint, stages, user, entrypoint, build context.

No Docker engine runs in CI, so the image is not built here; these checks hold the Dockerfile to
what the Helm chart and the operations docs assume of the image.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
HADOLINT = Path(sys.executable).parent / "hadolint"
COMPILERS = re.compile(r"\b(gcc|g\+\+|cc|clang|build-essential|make|cmake|gfortran|rustc|cargo)\b")


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword (upper case) and its arguments."""

    keyword: str
    arguments: str


def instructions(text: str) -> list[Instruction]:
    """Instructions in order, with backslash continuations joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    return [
        Instruction(keyword.upper(), arguments.strip())
        for keyword, _, arguments in (line.partition(" ") for line in logical)
    ]


def stages(text: str) -> list[list[Instruction]]:
    """The build stages, each starting with its FROM."""
    out: list[list[Instruction]] = []
    for instruction in instructions(text):
        if instruction.keyword == "FROM":
            out.append([])
        out[-1].append(instruction)
    return out


@pytest.fixture(scope="module")
def final_stage() -> list[Instruction]:
    """The instructions of the stage the image is made of."""
    return stages(DOCKERFILE.read_text(encoding="utf-8"))[-1]


def test_hadolint_finds_nothing() -> None:
    """hadolint (every rule, every severity) reports no finding on the Dockerfile."""
    result = subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_the_wheel_is_built_in_an_earlier_stage() -> None:
    """The first stage builds the wheel; the final stage installs from it without an index."""
    first, *_, last = stages(DOCKERFILE.read_text(encoding="utf-8"))
    assert any(i.keyword == "RUN" and "pip wheel" in i.arguments for i in first)
    installs = [i.arguments for i in last if i.keyword == "RUN" and "pip install" in i.arguments]
    assert installs and all("--no-index" in run and "from=build" in run for run in installs)


def test_base_images_are_pinned_slim_python() -> None:
    """Every stage starts from a python slim-bookworm image pinned to a patch release."""
    bases = [stage[0].arguments.split()[0] for stage in stages(DOCKERFILE.read_text("utf-8"))]
    assert bases and all(
        re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base) for base in bases
    ), bases


def test_the_rust_toolchain_comes_pinned_into_the_build_stage_only() -> None:
    """The build stage copies cargo from a patch-pinned rust image; the final stage never does."""
    first, *_, last = stages(DOCKERFILE.read_text(encoding="utf-8"))
    toolchain = [i.arguments for i in first if i.keyword == "COPY" and "--from=rust" in i.arguments]
    assert toolchain and all(
        re.match(r"--from=rust:\d+\.\d+\.\d+-slim-bookworm ", copy) for copy in toolchain
    ), toolchain
    assert not [i for i in last if "rust" in i.arguments or "cargo" in i.arguments]


def test_final_stage_runs_as_a_numeric_non_root_user(final_stage: list[Instruction]) -> None:
    """The final stage's last USER is a numeric uid other than 0 (runAsNonRoot can check it)."""
    user = [i.arguments for i in final_stage if i.keyword == "USER"][-1]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_entrypoint_is_driftwarden_in_exec_form(final_stage: list[Instruction]) -> None:
    """ENTRYPOINT is the JSON array ["driftwarden"], so SIGTERM reaches the daemon itself."""
    entrypoint = [i.arguments for i in final_stage if i.keyword == "ENTRYPOINT"]
    assert [json.loads(e) for e in entrypoint] == [["driftwarden"]]


def test_default_command_runs_the_config_the_chart_mounts(final_stage: list[Instruction]) -> None:
    """CMD runs the daemon on the config file at the path where the chart mounts it."""
    command = [json.loads(i.arguments) for i in final_stage if i.keyword == "CMD"]
    assert command == [["run", "--config", "/etc/driftwarden/config/driftwarden.yaml"]]


def test_python_output_is_unbuffered(final_stage: list[Instruction]) -> None:
    """The final stage sets PYTHONUNBUFFERED=1, so log lines reach the container runtime at once."""
    settings = {
        name: value
        for i in final_stage
        if i.keyword == "ENV"
        for name, _, value in (word.partition("=") for word in shlex.split(i.arguments))
    }
    assert settings.get("PYTHONUNBUFFERED") == "1"


def test_final_stage_installs_no_compiler(final_stage: list[Instruction]) -> None:
    """No RUN of the final stage names a compiler or build tool package."""
    runs = [i.arguments for i in final_stage if i.keyword == "RUN"]
    assert runs and not [run for run in runs if COMPILERS.search(run)]


def test_build_context_admits_every_copied_path() -> None:
    """.dockerignore excludes everything, then re-admits exactly the paths the Dockerfile copies."""
    copied = {
        source.removeprefix("./")
        for i in instructions(DOCKERFILE.read_text(encoding="utf-8"))
        if i.keyword == "COPY" and "--from" not in i.arguments
        for source in i.arguments.split()[:-1]
    }
    rules = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    admitted = {rule[1:] for rule in rules if rule.startswith("!")}
    assert rules[0] == "*"
    assert admitted == copied
    assert all((ROOT / path).exists() for path in copied)
