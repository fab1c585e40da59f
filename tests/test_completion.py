"""Shell completion through click's own machinery: SPEC arguments of every command complete
built-in names (and leave files to the shell), `--to` and `--backends` complete their lists."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.shell_completion import get_completion_class
from conftest import REPO

from resnet_spec.cli import cli
from resnet_spec.spec import builtins

PROG, VAR = "resnet-spec", "_RESNET_SPEC_COMPLETE"
RESNET5 = [name for name in builtins.names() if name.startswith("resnet5")]


def _complete(*words: str) -> list[tuple[str, str]]:
    """(type, value) of each completion of the last word after `resnet-spec words...`."""
    shell = get_completion_class("bash")(cli, {}, PROG, VAR)
    items = shell.get_completions(list(words[:-1]), words[-1])
    return [(item.type, item.value) for item in items]


def test_bash_completes_a_builtin_name_in_a_subprocess() -> None:
    env = {**os.environ, VAR: "bash_complete", "COMP_WORDS": "resnet-spec build resnet5",
           "COMP_CWORD": "2"}
    proc = subprocess.run([sys.executable, "-m", "resnet_spec"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["file,resnet5", *(f"plain,{n}" for n in RESNET5)]


@pytest.mark.parametrize("words", [["validate"], ["validate", "resnet18"], ["show"],
                                   ["summary"], ["render"], ["build"], ["export"], ["bench"],
                                   ["diff"], ["diff", "resnet18"],
                                   ["render", "--level", "blocks"]])
def test_every_spec_argument_completes_names(words: list[str]) -> None:
    assert _complete(*words, "resnet5") == [("file", "resnet5"), *(("plain", n) for n in RESNET5)]


def test_files_are_left_to_the_shell() -> None:
    # a path matches no name: the shell's own file completion does the work
    assert _complete("build", "specs/res") == [("file", "specs/res")]
    assert [v for t, v in _complete("show", "") if t == "plain"] == builtins.names()


def test_lists_complete_their_last_item() -> None:
    assert _complete("build", "x", "--to", "o") == [("plain", "onnx"), ("plain", "openvino")]
    assert _complete("export", "x", "--to", "onnx,") == [
        ("plain", f"onnx,{t}") for t in ("pt2", "openvino", "aoti", "tensorrt", "triton")]
    assert _complete("bench", "x", "--backends", "eager,inference,o") == [
        ("plain", "eager,inference,onnxruntime"), ("plain", "eager,inference,openvino")]


def test_commands_complete() -> None:
    assert _complete("d") == [("plain", "diff")]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_scripts_to_source(shell: str) -> None:
    script = get_completion_class(shell)(cli, {}, PROG, VAR).source()
    assert VAR in script and f"{shell}_complete" in script and PROG in script


SCRIPTS = Path(sys.executable).parent


@pytest.mark.skipif(shutil.which("bash") is None or not (SCRIPTS / PROG).exists(),
                    reason="needs bash and the resnet-spec script beside this interpreter")
def test_in_bash_itself() -> None:
    """The documented line, then what bash offers at `resnet-spec summary resnet5<TAB>`."""
    script = (
        'eval "$(_RESNET_SPEC_COMPLETE=bash_source resnet-spec)"\n'
        "COMP_WORDS=(resnet-spec summary resnet5); COMP_CWORD=2\n"
        "_resnet_spec_completion resnet-spec 2>/dev/null\n"  # compopt: no live completion
        'printf "%s\\n" "${COMPREPLY[@]}"\n')
    env = {**os.environ, "PATH": f"{SCRIPTS}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.stdout.splitlines() == RESNET5, proc.stderr


def test_fish_keeps_the_commas_of_a_list() -> None:
    from resnet_spec.cli.completion import register_shells

    register_shells()
    fish = get_completion_class("fish")(cli, {}, PROG, VAR)
    assert 'string split -m 1 ","' in fish.source()
    assert 'string split ","' not in fish.source()
