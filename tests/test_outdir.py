"""The output folder never costs the user a file: what `build --out` may replace, and what
happens on signals, races and a full disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_build_cli import FILES, build_ok, leftovers, run_build, snapshot

from resnet_spec.pipeline import outdir
from resnet_spec.pipeline.outdir import OutputError


def tree(folder: Path) -> dict[str, bytes | str]:
    """Every entry below `folder`: file contents, `link -> target`, or `dir`."""
    out: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_symlink():
            out[name] = f"link -> {os.readlink(path)}"
        elif path.is_dir():
            out[name] = "dir"
        else:
            out[name] = path.read_bytes()
    return out


def make_project(folder: Path) -> dict[str, bytes | str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "my.yaml").write_text("extends: cifar_resnet20\nname: mine\n")
    (folder / "notes.txt").write_text("three weeks of notes\n")
    (folder / "data").mkdir()
    (folder / "data" / "labels.csv").write_text("cat,dog\n")
    return tree(folder)


def test_a_folder_the_tool_did_not_write_is_refused_before_any_work(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    before = make_project(project)
    code, out, err = run_build(project / "my.yaml", "--out", project)
    assert code == 1 and not out
    assert "not a folder resnet-spec wrote" in err and "choose a new or empty folder" in err
    assert "[1/8]" not in err, "refused before the first step"
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert tree(project) == before
    assert not leftovers(project)


def test_out_dot_is_refused_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = make_project(tmp_path / "proj")
    monkeypatch.chdir(tmp_path / "proj")
    start = time.perf_counter()
    code, _, err = run_build("my.yaml", "--out", ".")
    assert code == 1 and "--out .: name the build's folder itself, not" in err
    assert time.perf_counter() - start < 5, "refused before compiling"
    assert tree(tmp_path / "proj") == before
    assert [p.name for p in tmp_path.iterdir()] == ["proj"]


def test_an_empty_folder_is_filled(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    build_ok("cifar_resnet20", "--out", tmp_path / "out")
    assert {p.name for p in (tmp_path / "out").iterdir()} == FILES


def test_a_build_folder_with_a_file_added_is_refused_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    build_ok("cifar_resnet20", "--out", folder)
    (folder / "results.txt").write_text("my evaluation\n")
    (folder / "plots").mkdir()
    before = tree(folder)
    code, _, err = run_build("cifar_resnet20", "--out", folder)
    assert code == 1 and "results.txt" in err and "plots" in err and "move them out" in err
    assert tree(folder) == before


def test_a_manifest_not_written_by_a_build_does_not_count(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"files": {"a.txt": "0"}}))
    (folder / "a.txt").write_text("mine")
    before = tree(folder)
    code, _, err = run_build("cifar_resnet20", "--out", folder)
    assert code == 1 and "not a folder resnet-spec wrote" in err
    assert tree(folder) == before


def test_a_symlinked_out_is_refused_and_its_target_kept(tmp_path: Path) -> None:
    real = tmp_path / "real"
    build_ok("cifar_resnet20", "--out", real)
    before = tree(real)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    code, _, err = run_build("cifar_resnet20", "--out", link)
    assert code == 1 and "symbolic link" in err
    assert link.is_symlink() and tree(real) == before


def test_a_link_inside_a_build_folder_makes_it_foreign(tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "precious.txt").write_text("do not delete")
    folder = tmp_path / "out"
    build_ok("cifar_resnet20", "--out", folder)
    (folder / "shortcut").symlink_to(keep, target_is_directory=True)
    code, _, err = run_build("cifar_resnet20", "--out", folder)
    assert code == 1 and "shortcut" in err
    assert (keep / "precious.txt").read_text() == "do not delete"


def test_stale_staging_removal_never_follows_links(tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "precious.txt").write_text("do not delete")
    (tmp_path / ".out.build-999999999-x").symlink_to(keep, target_is_directory=True)
    outdir.remove_stale_staging(tmp_path / "out")
    assert (keep / "precious.txt").exists()


def _build_process(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "resnet_spec", "build", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_step(build: subprocess.Popen[str], step: str) -> list[str]:
    assert build.stderr is not None
    seen = []
    for line in build.stderr:
        seen.append(line)
        if step in line:
            return seen
    raise AssertionError("the build ended before " + step + ": " + "".join(seen))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_build_cleans_up_and_keeps_the_previous_folder(
    signum: int, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    build_ok("cifar_resnet20", "--out", folder)
    before = snapshot(folder)
    build = _build_process("cifar_resnet20", "--out", str(folder), "--seed", "7")
    _wait_for_step(build, "compile")
    build.send_signal(signum)
    _, err = build.communicate(timeout=120)
    assert build.returncode == 128 + signum, err
    assert "Traceback" not in err
    assert snapshot(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "no staging folder left"


def test_of_two_builds_racing_for_a_new_folder_the_first_wins_the_other_says_so(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "out"
    first = _build_process("cifar_resnet20", "--out", str(folder), "--seed", "1")
    second = _build_process("cifar_resnet20", "--out", str(folder), "--seed", "2")
    results = [p.communicate(timeout=300) for p in (first, second)]
    codes = sorted(p.returncode for p in (first, second))
    assert codes == [0, 1], results
    loser = next(err for p, (_, err) in zip((first, second), results, strict=True)
                 if p.returncode == 1)
    assert "created by another process while this build ran" in loser
    winner_seed = 1 if first.returncode == 0 else 2
    assert json.loads((folder / "manifest.json").read_text())["seed"] == winner_seed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_swap_refuses_a_folder_that_became_foreign_after_the_check(tmp_path: Path) -> None:
    target = tmp_path / "out"
    build_ok("cifar_resnet20", "--out", target)
    (target / "late.txt").write_text("written during the build")
    staging = outdir.open_staging(target)
    (staging / "new.txt").write_text("this build")
    with pytest.raises(OutputError, match=r"late\.txt"):
        outdir.swap_into_place(staging, target)
    assert (target / "late.txt").exists() and (target / "manifest.json").exists()


def test_remove_previous_swaps_back_what_it_may_not_delete(tmp_path: Path) -> None:
    """The check and the exchange are two steps: if the folder swapped out turns out foreign,
    it goes back where it was."""
    if outdir._renameat2(tmp_path, tmp_path, 2) is None:
        pytest.skip("no renameat2 RENAME_EXCHANGE here")
    target = tmp_path / "out"
    target.mkdir()
    (target / "user.txt").write_text("mine")
    staging = tmp_path / ".out.build-1-x"
    staging.mkdir()
    (staging / "new.txt").write_text("this build")
    assert outdir._exchange(staging, target)
    with pytest.raises(OutputError, match="changed while this build ran"):
        outdir._remove_previous(staging, target, None)
    assert (target / "user.txt").read_text() == "mine"


FSIZE_LIMIT = """\
import resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from resnet_spec.cli import main
main(sys.argv[2:])
"""


def _limited(limit: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", FSIZE_LIMIT, str(limit), *args],
                          capture_output=True, text=True, timeout=300, check=False)


def test_a_file_size_limit_is_one_line_and_keeps_the_previous_build(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    build_ok("cifar_resnet20", "--out", folder)
    before = snapshot(folder)
    done = _limited(300_000, "build", "cifar_resnet20", "--out", str(folder), "--seed", "4")
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if not line.startswith("[")]
    assert len(errors) == 1 and "cannot write model.safetensors" in errors[0], done.stderr
    assert "File too large" in errors[0]
    assert snapshot(folder) == before and not leftovers(folder)


EXPORT_UNDER_LIMIT = """\
import resource, sys
from pathlib import Path
import resnet_spec
from resnet_spec.compiler.export import export_pt2
from resnet_spec.pipeline.outdir import OutputError
graph = resnet_spec.elaborate("cifar_resnet20")
module = resnet_spec.build(graph, for_inference=True)
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
try:
    export_pt2(module, graph, Path(sys.argv[1]))
except OutputError as err:
    print(err)
"""


def test_the_pt2_writer_reports_a_file_size_limit_instead_of_aborting(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", EXPORT_UNDER_LIMIT, str(tmp_path / "m.pt2")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("cannot write m.pt2") and "File too large" in done.stdout
