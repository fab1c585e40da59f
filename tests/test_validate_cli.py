"""`resnet-spec validate` and the CLI's error contract: one line per spec, exit codes 0/1/2,
`file:line:col: message` and never a traceback unless `--debug`, and no torch."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import BAD, REPO, SPECS

from resnet_spec.spec import builtins

BAD_SPEC = BAD / "graph_identity_shape_change.yaml"


def python_m(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "resnet_spec", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_every_builtin_spec_file_validates(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    files = sorted(f"specs/{p.name}" for p in SPECS.glob("*.yaml"))
    result = run_cli("validate", *files)
    assert result.code == 0, result.err
    assert result.err == ""
    lines = result.out.splitlines()
    assert len(lines) == len(files)
    assert all(line.startswith("ok  ") for line in lines)
    assert "ok  resnet152: 50 blocks, logits 1000  (specs/resnet152.yaml)" in lines
    assert "ok  cifar_resnet1202: 600 blocks, logits 10  (specs/cifar_resnet1202.yaml)" in lines


def test_builtin_names_validate(run_cli) -> None:
    result = run_cli("validate", *builtins.names())
    assert result.code == 0
    assert len(result.out.splitlines()) == len(builtins.names())


def test_one_bad_spec_among_good_ones(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    result = run_cli("validate", "resnet18", BAD_SPEC.name, "cifar_resnet20")
    assert result.code == 1
    assert [line.split(":")[0] for line in result.out.splitlines()] == ["ok  resnet18",
                                                                         "ok  cifar_resnet20"]
    assert result.err.startswith(f"{BAD_SPEC.name}:6:5: stages[1]: block layer2.0: ")
    assert result.err.rstrip().endswith("1 of 3 specs invalid")


def test_quiet_prints_errors_only(run_cli) -> None:
    assert run_cli("validate", "-q", "resnet18").out == ""


def test_missing_spec_is_invalid_not_usage(run_cli) -> None:
    result = run_cli("validate", "resnet5")
    assert result.code == 1
    assert result.err.startswith(
        "resnet5: no spec file or built-in spec named `resnet5`; did you mean `resnet50`?"
    )


@pytest.mark.parametrize("args", [["validate"], ["validate", "--nope", "resnet18"], ["frobnicate"],
                                  ["schema", "extra"]])
def test_usage_errors_exit_2(run_cli, args: list[str]) -> None:
    result = run_cli(*args)
    assert result.code == 2
    assert "Traceback" not in result.err
    assert "Usage:" in result.err or "Error:" in result.err


def test_small_input_is_a_warning_not_an_error(tmp_path: Path, run_cli,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tiny.yaml").write_text("extends: resnet18\nname: tiny\n"
                                        "input: {channels: 3, height: 16, width: 16}\n")
    monkeypatch.chdir(tmp_path)
    result = run_cli("validate", "tiny.yaml")
    assert result.code == 0
    assert result.out.startswith("ok  tiny: 8 blocks, logits 1000")
    assert result.err.startswith("warning: ")
    assert "sees a 1×1 map" in result.err and "raise `input` height/width" in result.err


def test_errors_are_never_tracebacks() -> None:
    plain = python_m("validate", str(BAD_SPEC))
    assert plain.returncode == 1
    assert "Traceback" not in plain.stderr
    assert ":6:5: stages[1]: block layer2.0: shortcut `identity` cannot add" in plain.stderr


def test_validate_lets_the_error_through_in_debug_mode() -> None:
    from resnet_spec.cli import cli
    from resnet_spec.errors import GraphError

    with pytest.raises(GraphError):
        cli.main(args=["validate", str(BAD_SPEC)], standalone_mode=False, obj={"debug": True})


def test_debug_shows_a_traceback() -> None:
    debug = python_m("validate", str(BAD_SPEC), "--debug")
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert "GraphError" in debug.stderr


def test_validate_show_and_diff_never_import_torch() -> None:
    code = (
        "import sys\n"
        "from resnet_spec.cli import main\n"
        "for args in (['validate', '-q', 'resnet152', 'tests/bad/yaml_broken.yaml'],\n"
        "             ['validate', '--json', 'resnet18'], ['show', 'resnet50d'],\n"
        "             ['diff', 'resnet50', 'resnet50d', '-o', sys.argv[1]]):\n"
        "    try:\n"
        "        main(args)\n"
        "        code = 0\n"
        "    except SystemExit as stop:\n"
        "        code = stop.code\n"
        "    print('exit', code, file=sys.stderr)\n"
        "print('torch' in sys.modules, 'torchvision' in sys.modules, file=sys.stderr)\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.run([sys.executable, "-c", code, f"{folder}/diff.dot"], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert Path(folder, "diff.dot").exists()
    exits = [line for line in proc.stderr.splitlines() if line.startswith("exit ")]
    assert exits == ["exit 1", "exit 0", "exit 0", "exit 0"], proc.stderr
    assert proc.stderr.splitlines()[-1] == "False False", proc.stderr


def test_python_m_is_the_same_cli() -> None:
    script = shutil.which("resnet-spec")
    if script is None:
        pytest.skip("the console script is not installed")
    args = ["validate", "resnet18", str(BAD_SPEC)]
    by_module = python_m(*args)
    by_script = subprocess.run([script, *args], cwd=REPO, capture_output=True, text=True,
                               timeout=120)
    assert (by_module.returncode, by_module.stdout, by_module.stderr) == (
        by_script.returncode, by_script.stdout, by_script.stderr)
    assert by_module.returncode == 1


def test_help_lists_validate(run_cli) -> None:
    result = run_cli("--help")
    assert result.code == 0
    assert "validate" in result.out and "schema" in result.out
