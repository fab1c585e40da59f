"""NO_COLOR (https://no-color.org): present and non-empty, no command writes an escape sequence,
even where colour is forced (FORCE_COLOR) or the output is a real terminal; without it, the
same commands do colour a forced or real terminal, so these tests can fail."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BAD, REPO

ESC = "\x1b"
BAD_SPEC = str(BAD / "graph_identity_shape_change.yaml")

# commands whose output a forced terminal colours: tables, errors, warnings
COLOURED = [
    ("summary", "resnet18"),
    ("list",),
    ("diff", "resnet18", "resnet34"),
    ("validate", BAD_SPEC),
    ("summary", "tiny.yaml"),  # a warning
    ("show", "resnet5"),  # an error
    ("build", "resnet5"),
    ("bench", "resnet5"),
    ("render", "resnet5"),
    ("diff", "resnet18", BAD_SPEC),
]
# commands that write no colour either way (data, diagrams, usage errors)
PLAIN = [
    ("show", "resnet18"),
    ("validate", "--json", "resnet18", BAD_SPEC),
    ("validate", "resnet18"),
    ("render", "resnet18"),
    ("schema",),
    ("summary", "resnet18", "--json"),
    ("diff", "resnet18", "resnet34", "--json"),
    ("build", "--no-such-option", "resnet18"),
    ("--help",),
]


@pytest.fixture
def forced(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Colour forced on, as on a terminal; a spec that warns in the working folder."""
    (tmp_path / "tiny.yaml").write_text("extends: resnet18\nname: tiny\n"
                                        "input: {channels: 3, height: 16, width: 16}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.mark.parametrize("args", COLOURED + PLAIN, ids=" ".join)
def test_no_escape_under_no_color(run_cli, forced: None, monkeypatch: pytest.MonkeyPatch,
                                  args: tuple[str, ...]) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    result = run_cli(*args)
    assert ESC not in result.out + result.err


@pytest.mark.parametrize("args", COLOURED, ids=" ".join)
def test_colour_without_no_color(run_cli, forced: None, args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert ESC in result.out + result.err


def test_an_empty_no_color_changes_nothing(run_cli, forced: None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "")
    assert ESC in run_cli("summary", "resnet18").out


def _on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """What a command writes to a real (pseudo-)terminal, stdout and stderr both."""
    main, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "resnet_spec", *args], cwd=REPO, env=env,
                            stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary)
    os.close(secondary)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        try:
            chunk = os.read(main, 65536) if ready else b""
        except OSError:  # EIO: the other side closed
            chunk = b""
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    proc.wait(timeout=60)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize("args", [["summary", "resnet18"], ["validate", BAD_SPEC]],
                         ids=" ".join)
def test_a_real_terminal(args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(TERM="xterm-256color", COLUMNS="120")
    assert ESC in _on_a_terminal(args, env)
    assert ESC not in _on_a_terminal(args, {**env, "NO_COLOR": "1"})
