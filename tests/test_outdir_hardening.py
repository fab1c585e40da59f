"""The output folder under odd names, leftovers, undeletable files and races (issue 21)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_build_cli import run_build

from resnet_spec.pipeline import outdir
from resnet_spec.pipeline.outdir import OutputError


def fake_build(folder: Path, content: str = "old") -> Path:
    """A folder as a build leaves it: its files and a manifest listing them."""
    folder.mkdir(parents=True)
    (folder / "summary.md").write_text(content)
    (folder / "sub").mkdir()
    (folder / "sub" / "model.pt2").write_text(content)
    manifest = {"versions": {"resnet_spec": "0"}, "files": {"summary.md": "", "sub/model.pt2": ""}}
    (folder / outdir.MANIFEST).write_text(json.dumps(manifest))
    return folder


def staged(target: Path, content: str) -> Path:
    staging = outdir.open_staging(target)
    fake_build(staging / "x", content)
    for entry in (staging / "x").iterdir():
        entry.rename(staging / entry.name)
    (staging / "x").rmdir()
    return staging


@pytest.mark.parametrize("name", [".x.build-²-a", ".x.build-99999999999999999999-a",
                                  ".x.build-4000000000-a", ".x.build--a", ".x.build-٣-a"])
def test_leftovers_with_odd_names_are_left_alone(tmp_path: Path, name: str) -> None:
    (tmp_path / name).mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (tmp_path / f".x.build-{dead}-b").mkdir()  # a build killed earlier: cleaned up
    staging = outdir.open_staging(tmp_path / "x")
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {name, staging.name}


def test_a_glob_character_in_the_name_cleans_only_its_own_leftovers(tmp_path: Path) -> None:
    (tmp_path / ".x[1].build-999999-a").mkdir()
    (tmp_path / ".x1.build-999999-a").mkdir()  # what `x[1]` would match as a pattern
    outdir.remove_stale_staging(tmp_path / "x[1]")
    assert {p.name for p in tmp_path.iterdir()} == {".x1.build-999999-a"}


def test_an_undeletable_old_file_is_a_note_and_the_new_build_stays(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = fake_build(tmp_path / "out")
    staging = staged(target, "new")
    unlink = os.unlink

    def stuck(path, *args, **kwargs):  # as an immutable file (chattr +i) refuses even root
        if os.fspath(path) == "summary.md":
            raise PermissionError(1, "Operation not permitted")
        return unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", stuck)
    note = outdir.swap_into_place(staging, target, replace=outdir.identity(target))
    assert (target / "summary.md").read_text() == "new"
    assert note is not None and "could not be deleted" in note
    assert "summary.md: Operation not permitted" in note
    left = [p for p in tmp_path.iterdir() if p.name != "out"]
    assert [p.name.startswith(".out.previous-") for p in left] == [True]
    assert str(left[0]) in note


def test_an_old_folder_that_may_not_be_changed_is_kept_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = fake_build(tmp_path / "out")
    staging = staged(target, "new")
    access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: not str(path).endswith("sub")
                        and access(path, mode, **kw))
    note = outdir.swap_into_place(staging, target, replace=outdir.identity(target))
    assert note is not None and "sub: permission denied" in note
    (left,) = (p for p in tmp_path.iterdir() if p.name != "out")
    assert (left / "summary.md").read_text() == "old" and (left / "sub" / "model.pt2").exists()


def test_the_cli_says_so_and_exits_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    assert run_build("cifar_resnet20", "--out", out)[0] == 0
    unlink = os.unlink

    def stuck(path, *args, **kwargs):
        if os.fspath(path) == "summary.md" and "dir_fd" in kwargs:  # rmtree's, not the build's
            raise PermissionError(1, "Operation not permitted")
        return unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", stuck)
    code, _, err = run_build("cifar_resnet20", "--out", out, "--seed", "3")
    assert code == 0 and "internal error" not in err
    assert "note: the previous build was replaced, but its old folder could not be deleted" in err
    assert json.loads((out / "manifest.json").read_text())["seed"] == 3


def test_of_two_builds_replacing_one_folder_the_first_wins_the_other_says_so(
        tmp_path: Path) -> None:
    target = fake_build(tmp_path / "out")
    began = outdir.identity(target)
    first, second = staged(target, "first"), staged(target, "second")
    assert outdir.swap_into_place(first, target, replace=began) is None
    with pytest.raises(OutputError, match="was replaced by another build while this one ran"):
        outdir.swap_into_place(second, target, replace=began)
    assert (target / "summary.md").read_text() == "first"


@pytest.mark.slow
def test_two_build_processes_into_one_existing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    assert run_build("cifar_resnet20", "--out", folder)[0] == 0
    runs = [subprocess.Popen([sys.executable, "-m", "resnet_spec", "build", "cifar_resnet20",
                              "--out", str(folder), "--seed", str(seed), "-q"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for seed in (1, 2)]
    results = [p.communicate(timeout=600) for p in runs]
    codes = [p.returncode for p in runs]
    assert sorted(codes) == [0, 1], results
    loser = results[codes.index(1)][1]
    assert "was replaced by another build while this one ran" in loser
    winner = codes.index(0) + 1
    assert json.loads((folder / "manifest.json").read_text())["seed"] == winner
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("out", ["missing/..", "/", ".", "existing/.."])
def test_outs_that_name_no_folder_of_their_own_are_refused_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out: str) -> None:
    monkeypatch.chdir(tmp_path)
    Path("existing").mkdir()
    code, _, err = run_build("cifar_resnet20", "--out", out)
    assert code == 1 and "name the build's folder itself" in err and "[1/8]" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]


def test_a_folder_without_a_manifest_is_refused_without_walking_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "big" / "deep").mkdir(parents=True)
    (tmp_path / "big" / "deep" / "file").write_text("x")

    def walk(folder: Path) -> list:
        raise AssertionError(f"walked {folder}")

    monkeypatch.setattr(outdir, "_entries", walk)
    with pytest.raises(OutputError, match="no build manifest"):
        outdir.check_target(tmp_path / "big")
