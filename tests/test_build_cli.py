"""`resnet-spec build` end to end: every file, the manifest, the exported program, seeds,
weights that do not fit, and a folder that appears whole or not at all."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import resnet_spec
from resnet_spec.cli import main
from resnet_spec.pipeline.run import STEPS

FILES = {
    "spec.resolved.yaml", "graph.json", "diagram.dot", "diagram.svg", "summary.md",
    "model.safetensors", "model.pt2", "manifest.json",
}
SMALL_RESNET18 = """\
extends: resnet18
name: resnet18_64
description: ResNet-18 on 64x64 images
input: {height: 64, width: 64}
head: {classes: 10}
"""


def run_build(*args: str | os.PathLike[str]) -> tuple[int, str, str]:
    """`resnet-spec build ARGS` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(["build", *map(os.fspath, args)])
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def build_ok(*args: str | os.PathLike[str]) -> tuple[str, str]:
    code, out, err = run_build(*args)
    assert code == 0, err
    return out, err


def leftovers(folder: Path) -> list[str]:
    """Staging folders of builds of `folder` still lying beside it."""
    return sorted(p.name for p in folder.parent.glob(f".{folder.name}.build-*"))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: digest(p) for p in sorted(folder.iterdir())}


def without_locations(graph_json: dict) -> dict:
    """graph.json with spec locations dropped: they name the file the spec was read from."""
    for node in graph_json["nodes"]:
        node.pop("loc")
    for info in graph_json["stages"] + graph_json["blocks"]:
        info.pop("loc", None)
    return graph_json


@pytest.fixture(scope="module")
def cifar(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    folder = tmp_path_factory.mktemp("cifar") / "out"
    out, err = build_ok("cifar_resnet20", "--out", folder)
    return folder, out, err


@pytest.fixture(scope="module")
def small18(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("r18")
    spec = root / "resnet18_64.yaml"
    spec.write_text(SMALL_RESNET18)
    build_ok(spec, "--out", root / "out")
    return root / "out"


def test_build_writes_every_file_and_reports_each_step(cifar: tuple[Path, str, str]) -> None:
    folder, out, err = cifar
    assert {p.name for p in folder.iterdir()} == FILES
    assert not leftovers(folder)
    progress = [line for line in err.splitlines() if line.startswith("[")]
    done = [line for line in progress if not line.endswith("...")]  # not what a step is doing
    assert [line.split()[1] for line in done] == list(STEPS)
    assert all(line.endswith(" s") for line in done)
    assert out.count("\n") == 1 and "cifar_resnet20" in out and str(folder) in out
    assert "params" in out and "MACs" in out
    assert "<svg" in (folder / "diagram.svg").read_text()
    assert (folder / "diagram.dot").read_text().lstrip().startswith(("digraph", "strict digraph"))
    assert "cifar_resnet20" in (folder / "summary.md").read_text()


def test_manifest_hashes_and_fields_are_true(cifar: tuple[Path, str, str]) -> None:
    folder, _, _ = cifar
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["files"]) == FILES - {"manifest.json"}
    for name, sha in manifest["files"].items():
        assert digest(folder / name) == sha, name
    graph = resnet_spec.elaborate("cifar_resnet20")
    assert manifest["params"] == graph.param_count() == 269_722
    assert manifest["macs"] > 40_000_000
    assert manifest["seed"] == 0 and manifest["weights"] is None
    assert manifest["versions"]["torch"].split("+")[0] == torch.__version__.split("+")[0]
    assert manifest["versions"]["resnet_spec"] == resnet_spec.__version__
    assert list(manifest["seconds"]) == list(STEPS[:-1])


def test_graph_json_is_the_ir(cifar: tuple[Path, str, str]) -> None:
    folder, _, _ = cifar
    written = json.loads((folder / "graph.json").read_text())
    assert written == json.loads(json.dumps(resnet_spec.elaborate("cifar_resnet20").to_json()))


@pytest.mark.parametrize("which", ["cifar", "small18"])
def test_resolved_spec_revalidates_to_the_same_graph(
    which: str, request: pytest.FixtureRequest
) -> None:
    fixture = request.getfixturevalue(which)
    folder = fixture[0] if isinstance(fixture, tuple) else fixture
    resolved = folder / "spec.resolved.yaml"
    text = resolved.read_text()
    assert "\nextends:" not in text and "stride_at" in text and "eps" in text
    again = resnet_spec.elaborate(resolved).to_json()
    written = json.loads((folder / "graph.json").read_text())
    assert without_locations(json.loads(json.dumps(again))) == without_locations(written)


def test_pt2_runs_at_batch_1_and_3_like_the_module(small18: Path) -> None:
    module = resnet_spec.build(
        small18 / "spec.resolved.yaml", weights=small18 / "model.safetensors", for_inference=True
    )
    program = torch.export.load(str(small18 / "model.pt2")).module()
    generator = torch.Generator().manual_seed(0)
    for batch in (1, 3):
        x = torch.randn(batch, 3, 64, 64, generator=generator)
        with torch.no_grad():
            expected, got = module(x), program(x)
        assert got.shape == (batch, 10)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_seed_gives_identical_weights_and_another_seed_differs(
    cifar: tuple[Path, str, str], tmp_path: Path
) -> None:
    first = cifar[0] / "model.safetensors"
    build_ok("cifar_resnet20", "--out", tmp_path / "same", "--seed", "0")
    build_ok("cifar_resnet20", "--out", tmp_path / "other", "--seed", "1")
    assert (tmp_path / "same" / "model.safetensors").read_bytes() == first.read_bytes()
    assert (tmp_path / "other" / "model.safetensors").read_bytes() != first.read_bytes()
    assert json.loads((tmp_path / "other" / "manifest.json").read_text())["seed"] == 1


def test_weights_that_do_not_fit_exit_1_naming_the_keys(
    cifar: tuple[Path, str, str], tmp_path: Path
) -> None:
    state = load_file(cifar[0] / "model.safetensors")
    del state["layer2.0.conv1.weight"]
    state["layer9.0.conv1.weight"] = torch.zeros(1)
    state["fc.weight"] = torch.zeros(11, 64)
    bad = tmp_path / "bad.safetensors"
    save_file(state, bad)
    code, out, err = run_build("cifar_resnet20", "--out", tmp_path / "out", "--weights", bad)
    assert code == 1 and not out
    for key in ("layer2.0.conv1.weight", "layer9.0.conv1.weight", "fc.weight"):
        assert key in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path / "out")


def test_weights_that_fit_are_loaded_and_recorded(
    cifar: tuple[Path, str, str], tmp_path: Path
) -> None:
    weights = cifar[0] / "model.safetensors"
    build_ok("cifar_resnet20", "--out", tmp_path / "out", "--weights", weights, "--seed", "5")
    assert (tmp_path / "out" / "model.safetensors").read_bytes() == weights.read_bytes()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["weights"]["sha256"] == digest(weights)


def test_out_pointing_at_a_file_is_a_one_line_error(tmp_path: Path) -> None:
    file = tmp_path / "taken"
    file.write_text("keep me")
    code, _, err = run_build("cifar_resnet20", "--out", file)
    assert code in (1, 2)
    assert "taken" in err and "Traceback" not in err
    assert file.read_text() == "keep me"


def test_invalid_spec_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\nstages:\n  - {depth: 2, widht: 64}\n")
    code, _, err = run_build(spec, "--out", tmp_path / "out")
    assert code == 1 and "bad.yaml:3" in err and "widht" in err
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path / "out")


def _fail_export(*_: object, **__: object) -> None:
    raise RuntimeError("export failed on purpose")


def test_failure_mid_build_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("resnet_spec.compiler.export.export_pt2", _fail_export)
    code, _, err = run_build("cifar_resnet20", "--out", tmp_path / "out")
    assert code == 1 and "export failed on purpose" in err
    assert "[7/8] export     failed" in err
    assert not (tmp_path / "out").exists()
    assert not leftovers(tmp_path / "out")


def test_failure_mid_rebuild_keeps_the_previous_folder(
    cifar: tuple[Path, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "out"
    build_ok("cifar_resnet20", "--out", folder)
    before = snapshot(folder)
    monkeypatch.setattr("resnet_spec.compiler.export.export_pt2", _fail_export)
    code, _, _ = run_build("cifar_resnet20", "--out", folder, "--seed", "3")
    assert code == 1
    assert snapshot(folder) == before and not leftovers(folder)


def test_killed_build_keeps_the_previous_folder_and_next_build_replaces_it(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "out"
    build_ok("cifar_resnet20", "--out", folder)
    before = snapshot(folder)
    build = subprocess.Popen(
        [sys.executable, "-m", "resnet_spec", "build", "cifar_resnet20", "--out", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    assert build.stderr is not None
    for line in build.stderr:
        if "compile" in line:  # the staging folder holds the weights; export is next
            build.send_signal(signal.SIGKILL)
            break
    build.wait()
    assert build.returncode == -signal.SIGKILL
    assert snapshot(folder) == before
    assert leftovers(folder), "the killed build's staging folder should still be there"
    build_ok("cifar_resnet20", "--out", folder)
    assert {p.name for p in folder.iterdir()} == FILES
    assert not leftovers(folder)


def test_the_build_command_imports_no_torch_before_compiling() -> None:
    probe = (
        "import sys, resnet_spec.pipeline.run, resnet_spec.cli.build_cmd; "
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0


def test_export_check_rejects_a_program_that_differs_or_does_not_load(
    cifar: tuple[Path, str, str], tmp_path: Path
) -> None:
    from resnet_spec.compiler.export import ExportError, verify_pt2

    graph = resnet_spec.elaborate("cifar_resnet20")
    same = resnet_spec.build(graph, seed=0, for_inference=True)
    verify_pt2(same, graph, cifar[0] / "model.pt2", batches=(1, 3))
    other = resnet_spec.build(graph, seed=1, for_inference=True)
    with pytest.raises(ExportError, match="differ"):
        verify_pt2(other, graph, cifar[0] / "model.pt2")
    broken = tmp_path / "broken.pt2"
    broken.write_bytes(b"not a program")
    with pytest.raises(ExportError, match="does not load back"):
        verify_pt2(same, graph, broken)


@pytest.mark.parametrize("atomic_exchange", [True, False])
def test_swap_replaces_the_previous_folder_whole(
    atomic_exchange: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resnet_spec.pipeline import outdir

    if not atomic_exchange:
        monkeypatch.setattr(outdir, "_exchange", lambda *_: False)
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("previous build")
    manifest = {"versions": {"resnet_spec": "0"}, "files": {"old.txt": "0"}}
    (target / "manifest.json").write_text(json.dumps(manifest))
    staging = outdir.open_staging(target)
    (staging / "new.txt").write_text("this build")
    outdir.swap_into_place(staging, target)
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert not leftovers(target)


@pytest.mark.parametrize("command", [["export", "--to", "onnx"], ["build", "--to", "openvino"],
                                     ["export", "--to", "tensorrt"]])
def test_a_bad_spec_with_targets_fails_before_any_runtime_is_imported(
        command: list[str], tmp_path: Path) -> None:
    """The targets' runtimes take seconds to import; a spec error needs none of them, and
    comes before a missing one (TensorRT here)."""
    code = ("import sys\nfrom resnet_spec.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as stop:\n"
            "    print(stop.code, 'torch' in sys.modules, 'onnx' in sys.modules)\n")
    spec = tmp_path / "bad.yaml"
    spec.write_text("extends: resnet18\nname: bad\nstages: []\n")
    done = subprocess.run([sys.executable, "-c", code, command[0], str(spec), *command[1:]],
                          capture_output=True, text=True, cwd=tmp_path, check=False)
    assert done.stdout.split() == ["1", "False", "False"]
    assert "stages: needs at least 1 item" in done.stderr
    assert not (tmp_path / "build").exists()
