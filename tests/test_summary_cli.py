"""`resnet-spec summary` and `resnet-spec list`: output, JSON fields, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from resnet_spec.cli import main
from resnet_spec.spec import builtins

SPECS = Path(__file__).resolve().parent.parent / "specs"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in this process: exit code, stdout, stderr."""
    try:
        main(args)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def test_summary_table_of_a_spec_file(capsys) -> None:
    code, out, _ = run(["summary", str(SPECS / "resnet50.yaml")], capsys)
    assert code == 0
    for text in ("resnet50", "layer4", "2048×7×7", "25.56M", "4.09G", "427",
                 "25,557,032", "batch of 1 in float32"):
        assert text in out


def test_summary_json_object(capsys) -> None:
    code, out, _ = run(["summary", "resnet50", "--json", "--batch", "8", "--dtype", "float16"],
                       capsys)
    assert code == 0
    data = json.loads(out)
    assert data["name"] == "resnet50"
    assert data["params"] == 25_557_032 and isinstance(data["params"], int)
    assert data["macs"] == 4_089_184_256
    assert isinstance(data["activations"], int) and data["activations"] > 0
    assert [s["name"] for s in data["stages"]] == ["stem", "layer1", "layer2", "layer3",
                                                   "layer4", "head"]
    for stage in data["stages"]:
        assert {"name", "output_shape", "params", "macs", "receptive_field"} <= set(stage)
    assert data["memory"] == {"batch": 8, "dtype": "float16",
                              "activation_bytes": data["activations"] * 16,
                              "param_bytes": 25_557_032 * 2}


def test_summary_layers(capsys) -> None:
    code, out, _ = run(["summary", "cifar_resnet20", "--layers"], capsys)
    assert code == 0
    assert "layer3.2.conv2" in out and "subsample /2" in out
    code, out, _ = run(["summary", "cifar_resnet20", "--layers", "--json"], capsys)
    layers = json.loads(out)["layers"]
    assert layers[0]["name"] == "input"
    assert layers[-1]["name"] == "fc" and layers[-1]["macs"] == 640


def test_memory_follows_batch_and_dtype(capsys) -> None:
    _, one, _ = run(["summary", "resnet18", "--json"], capsys)
    _, many, _ = run(["summary", "resnet18", "--json", "--batch", "32", "--dtype", "bfloat16"],
                     capsys)
    one_bytes = json.loads(one)["memory"]["activation_bytes"]
    assert json.loads(many)["memory"]["activation_bytes"] == one_bytes * 32 // 2


@pytest.mark.parametrize("args", [["--batch", "0"], ["--dtype", "int8"], ["--nope"]])
def test_summary_usage_errors_exit_2(capsys, args: list[str]) -> None:
    code, _, err = run(["summary", "resnet18", *args], capsys)
    assert code == 2
    assert err


def test_summary_of_an_invalid_spec_exits_1(capsys, tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nstages:\n  - {depth: 0, width: 64}\n")
    code, out, err = run(["summary", str(bad)], capsys)
    assert code == 1
    assert "bad.yaml:3:" in err and not out
    code, _, err = run(["summary", "resnet5O"], capsys)
    assert code == 1 and "resnet50" in err


def test_list_shows_every_builtin(capsys) -> None:
    code, out, _ = run(["list"], capsys)
    assert code == 0
    for name in builtins.names():
        assert name in out
    assert "25.56M" in out and "4.089" in out


def test_list_json(capsys) -> None:
    code, out, _ = run(["list", "--json"], capsys)
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert set(rows) == set(builtins.names())
    assert rows["wide_resnet101_2"]["params"] == 126_886_696
    assert rows["cifar_resnet1202"]["blocks"] == 600
    assert rows["cifar_resnet20"]["input_shape"] == [3, 32, 32]


def test_summary_as_a_process() -> None:
    result = subprocess.run([sys.executable, "-m", "resnet_spec", "summary", "resnet34", "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["macs"] == 3_663_761_408
