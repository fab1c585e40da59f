"""The corpus of bad specs: each file in tests/bad/ must fail `validate` where and how it says.

Each corpus file starts with `# expect: [FILE:]LINE:COL: MESSAGE`: `validate` must exit 1 and
print an error line at that position (in FILE when the error sits in another file of the
`extends` chain) containing MESSAGE. Adding a case is adding a file. Cases that need large or
many files (over 1 MiB, long `extends` chains) are generated here instead of committed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import BAD

from resnet_spec import limits
from resnet_spec.errors import GraphError
from resnet_spec.ir import ConvNode, Graph, InputNode, Scope

_EXPECT = re.compile(
    r"^# expect: (?:(?P<file>\S+?\.ya?ml):)?(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$")
_ERROR = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$")

CORPUS = sorted(BAD.glob("*.yaml"))


@dataclass(frozen=True)
class Expected:
    file: str
    line: int
    col: int
    message: str

    def found_in(self, stderr: str) -> bool:
        """An error line of `stderr` at this position that contains this message."""
        for text in stderr.splitlines():
            m = _ERROR.match(text)
            if not m or (int(m["line"]), int(m["col"])) != (self.line, self.col):
                continue
            same_file = m["file"] == self.file or m["file"].endswith("/" + self.file)
            if same_file and self.message in m["msg"]:
                return True
        return False


def expectation(path: Path) -> Expected:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    m = _EXPECT.match(first)
    if m is None:
        raise AssertionError(f"{path.name}: first line must be `# expect: LINE:COL: MESSAGE`")
    return Expected(m["file"] or path.name, int(m["line"]), int(m["col"]), m["msg"])


def test_corpus_is_there() -> None:
    assert len(CORPUS) >= 50
    for path in CORPUS:
        expectation(path)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_bad_spec(path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    expected = expectation(path)
    result = run_cli("validate", path.name)
    assert result.code == 1, result.err
    assert result.out == ""
    assert "Traceback" not in result.err
    assert expected.found_in(result.err), f"wanted {expected}, got:\n{result.err}"


def test_whole_corpus_in_one_process() -> None:
    """The CLI as users run it: every file on one command line, all reported, exit 1."""
    names = [p.name for p in CORPUS]
    proc = subprocess.run([sys.executable, "-m", "resnet_spec", "validate", *names], cwd=BAD,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    missing = [p.name for p in CORPUS if not expectation(p).found_in(proc.stderr)]
    assert not missing, proc.stderr
    assert proc.stderr.rstrip().endswith(f"{len(names)} of {len(names)} specs invalid")


# Generated cases ------------------------------------------------------------------------------


def _spec(extra: str = "") -> str:
    return f"name: t\nstages:\n  - {{depth: 1, width: 8}}\n{extra}"


def test_file_over_one_mebibyte(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch
                                ) -> None:
    big = tmp_path / "big.yaml"
    padding = "# " + "x" * 98 + "\n"
    big.write_text(_spec() + padding * (limits.MAX_FILE_BYTES // len(padding) + 1))
    monkeypatch.chdir(tmp_path)
    result = run_cli("validate", "big.yaml")
    assert result.code == 1
    assert result.err.startswith("big.yaml:1:1: the file is ")
    assert f"a spec may be at most {limits.MAX_FILE_BYTES} bytes" in result.err


def test_file_just_under_the_limit_is_read(tmp_path: Path, run_cli,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "padded.yaml"
    text = _spec()
    spec.write_text(text + "#" * (limits.MAX_FILE_BYTES - len(text) - 1) + "\n")
    monkeypatch.chdir(tmp_path)
    assert run_cli("validate", "padded.yaml").code == 0


def _chain(tmp_path: Path, links: int) -> Path:
    """`c0.yaml` extends `c1.yaml` ... extends `c{links}.yaml`, a complete spec."""
    (tmp_path / f"c{links}.yaml").write_text(_spec())
    for i in range(links):
        (tmp_path / f"c{i}.yaml").write_text(f"extends: c{i + 1}.yaml\nname: c{i}\n")
    return tmp_path / "c0.yaml"


def test_extends_chain_at_the_limit(tmp_path: Path, run_cli,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _chain(tmp_path, limits.MAX_EXTENDS_DEPTH)
    monkeypatch.chdir(tmp_path)
    result = run_cli("validate", "c0.yaml")
    assert result.code == 0, result.err
    assert "ok  c0:" in result.out


def test_extends_chain_too_deep(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch
                                ) -> None:
    depth = limits.MAX_EXTENDS_DEPTH
    _chain(tmp_path, depth + 1)
    monkeypatch.chdir(tmp_path)
    result = run_cli("validate", "c0.yaml")
    assert result.code == 1
    # Reported where the 17th link is written, naming the whole chain.
    assert result.err.startswith(f"c{depth}.yaml:1:10: extends: ")
    assert f"chains deeper than {depth} files" in result.err
    assert " -> ".join(f"c{i}.yaml" for i in range(depth + 1)) in result.err


def test_extends_itself(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "me.yaml").write_text("extends: me.yaml\n" + _spec())
    monkeypatch.chdir(tmp_path)
    result = run_cli("validate", "me.yaml")
    assert result.code == 1
    assert "me.yaml:1:10: extends: `extends` forms a cycle: me.yaml -> me.yaml" in result.err


def test_nesting_far_beyond_the_limit_fails_at_its_line(tmp_path: Path, run_cli,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # Deep enough to exhaust Python's stack if composed recursively to the end.
    (tmp_path / "deep.yaml").write_text(_spec("x: " + "[" * 200_000 + "]" * 200_000 + "\n"))
    monkeypatch.chdir(tmp_path)
    result = run_cli("validate", "deep.yaml")
    assert result.code == 1
    assert result.err.startswith(f"deep.yaml:4:{limits.MAX_YAML_DEPTH + 4}: nested deeper than")


def test_empty_map_is_a_graph_error() -> None:
    """Padding keeps every size of an elaborated spec at least 1, so this check is reached only
    by IR built or rewritten otherwise (a pass): it must still say where and why."""
    from resnet_spec.errors import Loc
    from resnet_spec.ir.check import check_graph, raise_errors

    graph = Graph("tiny")
    graph.add(InputNode(name="input", shape=(3, 2, 2), scope=Scope(stage="input")))
    conv = ConvNode(name="conv1", inputs=("input",), in_channels=3, out_channels=8, kernel=3,
                    scope=Scope(stage="stem"), loc=Loc("tiny.yaml", 4, 7, "stem"))
    graph.add(conv.model_copy(update={"shape": (8, 0, 0)}))
    graph.outputs = {"features": "conv1"}
    with pytest.raises(GraphError) as caught:
        raise_errors(check_graph(graph))
    assert str(caught.value).startswith("tiny.yaml:4:7: stem: the input is too small: `conv1`")
    assert "empty map" in str(caught.value)
    assert "use a larger `input`" in caught.value.hint
