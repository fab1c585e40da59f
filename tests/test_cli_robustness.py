"""The command line under conditions other than a happy terminal: `--debug` with a usage error,
a stdout that cannot encode Unicode, a reader that closes the pipe, a seed out of range."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

SPEC = "name: t\ndescription: café × naïve — ü\nstages:\n  - {depth: 1, width: 8}\n"


def _run(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None,
         close_stdout: bool = False) -> tuple[int, str, str]:
    """`resnet-spec ARGS` as a process: exit code, stdout, stderr."""
    command = [sys.executable, "-m", "resnet_spec", *args]
    environment = {**os.environ, **(env or {})}
    if not close_stdout:
        done = subprocess.run(command, cwd=cwd, env=environment, capture_output=True,
                              timeout=120)
        return done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode()
    # the reader is gone before the first line is written: every write is a broken pipe
    process = subprocess.Popen(command, cwd=cwd, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    stderr = process.stderr.read().decode()
    return process.wait(timeout=120), "", stderr


@pytest.mark.parametrize("args", [["--debug", "validate"], ["validate", "--nope", "--debug"],
                                  ["--debug", "build", "resnet18", "--seed", "-1"]])
def test_debug_keeps_usage_errors_at_exit_2(run_cli, args: list[str]) -> None:
    result = run_cli(*args)
    assert result.code == 2
    assert "Traceback" not in result.err
    assert "Error:" in result.err


@pytest.mark.parametrize("seed", [str(2**64), "9" * 5000, "-1", "x"])
def test_a_seed_out_of_torchs_range_is_a_usage_error(run_cli, seed: str) -> None:
    result = run_cli("build", "resnet18", "--seed", seed, "--out", "/nonexistent/never")
    assert result.code == 2
    assert "Invalid value for '--seed'" in result.err
    assert len(result.err.splitlines()) == 4  # usage, try, blank, the one error line


def test_the_largest_seed_initializes() -> None:
    import resnet_spec

    graph = resnet_spec.elaborate("cifar_resnet20")
    assert resnet_spec.build(graph, seed=2**64 - 1) is not None


@pytest.mark.parametrize("args", [["summary", "t.yaml"], ["summary", "t.yaml", "--layers"],
                                  ["validate", "t.yaml"], ["list"]])
def test_an_ascii_stdout_gets_the_nearest_ascii(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "t.yaml").write_text(SPEC, encoding="utf-8")
    code, out, err = _run(*args, cwd=tmp_path, env={"PYTHONIOENCODING": "ascii"})
    assert code == 0, err
    assert out.isascii()
    if args[0] == "summary":
        assert "cafe x naive - u" in out
        assert "64x56x56" in out


@pytest.mark.parametrize("args", [["summary", "resnet50", "--layers"],
                                  ["summary", "resnet50", "--json"], ["validate", "resnet18"],
                                  ["list"], ["render", "resnet18"], ["schema"]])
def test_a_closed_pipe_ends_quietly_with_141(args: list[str]) -> None:
    code, _, err = _run(*args, close_stdout=True)
    assert code == 141
    assert err == ""
