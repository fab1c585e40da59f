"""What is read as a spec: only regular files, with bounded work; every other path is a one-line
message at the file (or at the `extends` line that names it), exit 1, never a hang."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from resnet_spec import files, limits, load
from resnet_spec.errors import SpecError
from resnet_spec.spec.yaml_source import parse_text

SPEC = "name: t\nstages:\n  - {depth: 1, width: 8}\n"


def _validate(cwd: Path, *names: str) -> subprocess.CompletedProcess[str]:
    """A separate process with a deadline: a regression here hangs rather than fails."""
    return subprocess.run([sys.executable, "-m", "resnet_spec", "validate", *names], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifos_and_devices_are_refused_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "child.yaml").write_text("extends: pipe.yaml\nname: c\n")
    (tmp_path / "dev.yaml").write_text("extends: /dev/zero\nname: d\n")
    done = _validate(tmp_path, "pipe.yaml", "child.yaml", "dev.yaml", "/dev/zero")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "pipe.yaml: cannot read `pipe.yaml`: it is a FIFO (named pipe), not a regular file",
        "child.yaml:1:10: extends: cannot read `pipe.yaml`: it is a FIFO (named pipe), not a "
        "regular file",
        "dev.yaml:1:10: extends: cannot read `/dev/zero`: it is a character device, not a "
        "regular file",
        "/dev/zero: cannot read `/dev/zero`: it is a character device, not a regular file",
        "4 of 4 specs invalid",
    ]


def test_a_folder_a_link_loop_and_a_long_name(tmp_path: Path, run_cli,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dir.yaml").mkdir()
    (tmp_path / "a.yaml").symlink_to("b.yaml")
    (tmp_path / "b.yaml").symlink_to("a.yaml")
    (tmp_path / "loop_child.yaml").write_text("extends: a.yaml\nname: c\n")
    long = "x" * 300 + ".yaml"
    monkeypatch.chdir(tmp_path)
    result = run_cli("validate", "dir.yaml", "a.yaml", "loop_child.yaml", long)
    assert result.code == 1
    lines = result.err.splitlines()
    assert lines[0] == "dir.yaml: cannot read `dir.yaml`: it is a folder, not a regular file"
    assert lines[1] == "a.yaml: cannot read `a.yaml`: Too many levels of symbolic links"
    assert lines[2] == ("loop_child.yaml:1:10: extends: cannot read `a.yaml`: Too many levels "
                        "of symbolic links")
    assert lines[3].startswith(f"{long}: cannot read `{'x' * 59}…`: File name too long")


def test_an_unreadable_file_is_named(tmp_path: Path, run_cli,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked.yaml").write_text(SPEC)
    real_open = os.open

    def refuse(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.fspath(path).endswith("locked.yaml"):  # chmod 000 does not stop root
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    monkeypatch.chdir(tmp_path)
    result = run_cli("validate", "locked.yaml")
    assert result.code == 1
    assert result.err == "locked.yaml: cannot read the file: Permission denied\n"


def test_a_file_that_grows_past_its_reported_size_is_cut_at_the_limit(tmp_path: Path) -> None:
    # /proc files report size 0 and may never end: the read stops at the limit either way
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    with pytest.raises(files.TooLarge):
        files.read_regular(path, 10)
    assert files.read_regular(path, 100) == b"x" * 100


def test_nul_bytes_in_paths_are_messages_not_crashes(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="the path holds a NUL byte"):
        load(str(tmp_path / "a\0b.yaml"))


def test_integers_beyond_the_digit_limit_are_located(run_cli, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # 5000 digits is past Python's own int-from-str limit (4300); hex has no such limit
    (tmp_path / "dec.yaml").write_text(SPEC.replace("depth: 1", "depth: " + "9" * 5000))
    (tmp_path / "hex.yaml").write_text(SPEC.replace("depth: 1", "depth: 0x" + "f" * 5000))
    monkeypatch.chdir(tmp_path)
    result = run_cli("validate", "dec.yaml", "hex.yaml")
    assert result.code == 1
    assert result.err.splitlines()[:2] == [
        f"dec.yaml:3:13: a number 5000 digits long; a spec's numbers have at most "
        f"{limits.MAX_NUMBER_DIGITS} digits",
        f"hex.yaml:3:13: a number 5002 digits long; a spec's numbers have at most "
        f"{limits.MAX_NUMBER_DIGITS} digits",
    ]


def test_a_one_mebibyte_flow_list_stops_where_the_budget_runs_out() -> None:
    head = SPEC + "x: ["
    items = (limits.MAX_FILE_BYTES - len(head) - 3) // 2
    text = head + ",".join(["1"] * items) + "]\n"
    assert len(text) <= limits.MAX_FILE_BYTES
    with pytest.raises(SpecError) as caught:
        parse_text(text, "flow.yaml")
    # stopped at the item past the budget (the 13 values before the list count too), some 40
    # thousand columns into a line a million long
    column = len("x: [") + 2 * (limits.MAX_YAML_NODES - 12) + 1
    assert str(caught.value) == (f"flow.yaml:4:{column}: the document holds more than "
                                 f"{limits.MAX_YAML_NODES} values")


def test_the_largest_spec_the_schema_allows_is_far_inside_the_value_budget() -> None:
    block = ("{kind: bottleneck, expansion: 4, groups: 1, base_width: 64, stride_at: middle, "
             "se: {reduction: 16}, drop_path: 0.0, zero_init_last_norm: false}")
    stage = f"  - {{depth: 1, width: 8, stride: 1, dilation: 1, block: {block}, shortcut: none}}\n"
    text = (SPEC.split("stages:")[0] + "description: d\ninput: {channels: 3, height: 8, width: 8}\n"
            "norm: {kind: batch, eps: 0.1, momentum: 0.1, groups: 1}\n"
            "stem: {kind: deep, width: 8, widths: [8, 8, 8], kernel: 3, stride: 1, pool: none}\n"
            f"block: {block}\nhead: none\nfeatures: [{', '.join(['1'] * 64)}]\n"
            "stages:\n" + stage * 64)
    _, source = parse_text(text, "max.yaml")
    values = len(source.values) + len(source.keys)
    assert 1500 < values < 3000 < limits.MAX_YAML_NODES


def test_a_folder_named_like_a_builtin_does_not_hide_it(tmp_path: Path, run_cli,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "resnet18").mkdir()  # `build resnet18 --out resnet18` leaves one
    (tmp_path / "child.yaml").write_text("extends: resnet18\nname: c\n")
    monkeypatch.chdir(tmp_path)
    result = run_cli("validate", "resnet18", "child.yaml")
    assert result.code == 0, result.err
