"""`resnet-spec sweep`: the spaces, the static costs (equal to `summary`'s), constraints, the
front, shards that merge into the whole, the files written, and --measure through bench."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from resnet_spec.sweep.costing import cost_all
from resnet_spec.sweep.front import pareto_front, spread
from resnet_spec.sweep.space import (
    SpaceError,
    grid_variants,
    parse_grid,
    parse_shard,
    regnet_variants,
)
from resnet_spec.sweep.where import parse_where


def test_a_grid_is_every_combination_in_a_stable_order() -> None:
    grid = parse_grid(["stages.2.depth=4,6", "stem={kind: deep, width: 64},{kind: conv, "
                       "width: 64, kernel: 7}"])
    assert grid[1][1] == ["{kind: deep, width: 64}", "{kind: conv, width: 64, kernel: 7}"]
    variants = list(grid_variants(grid))
    assert [v.index for v in variants] == [0, 1, 2, 3]
    assert variants[1].overrides == ("stages.2.depth=4", "stem={kind: conv, width: 64, kernel: 7}")
    with pytest.raises(SpaceError, match="expected PATH=V1,V2"):
        parse_grid(["stages.2.depth"])


def test_the_regnet_space_is_pycls_ranges_and_reproducible() -> None:
    first = list(regnet_variants(200, seed=3))
    assert first == list(regnet_variants(200, seed=3))
    assert first != list(regnet_variants(200, seed=4))
    for variant in first:
        values = dict(o.split("=") for o in variant.overrides)
        assert 12 <= int(values["regnet.depth"]) <= 28
        assert 8 <= int(values["regnet.w0"]) <= 256 and int(values["regnet.w0"]) % 8 == 0
        assert 8 <= float(values["regnet.wa"]) <= 256
        assert 2 <= float(values["regnet.wm"]) <= 3
        group = int(values["regnet.group_width"])
        assert 8 <= group <= 128 and group % 8 == 0
    # variant i is the same in any shard
    assert list(regnet_variants(200, seed=3))[7] == first[7]


def test_static_costs_are_what_summary_says(run_cli) -> None:
    variants = list(regnet_variants(6, seed=1))
    costed = cost_all("regnetx_002", variants, workers=2)
    assert [c.variant for c in costed] == variants
    for c in costed[:3]:
        sets = [a for o in c.variant.overrides for a in ("--set", o)]
        shown = json.loads(run_cli("summary", "regnetx_002", *sets, "--json").out)
        assert (c.params, c.macs, c.activations) == (
            shown["params"], shown["macs"], shown["activations"])
    assert costed == cost_all("regnetx_002", variants, workers=1)


def test_an_invalid_variant_is_reported_not_fatal() -> None:
    grid = parse_grid(["norm={kind: group, groups: 8},{kind: group, groups: 7}"])
    costed = cost_all("resnet18", grid_variants(grid), workers=1)
    assert costed[0].valid
    assert not costed[1].valid and "group norm with 7 groups" in costed[1].error


def test_constraints_and_the_front() -> None:
    (c,) = parse_where(["params <= 30M"])
    assert (c.figure, c.op, c.value, str(c)) == ("params", "<=", 30e6, "params<=30M")
    with pytest.raises(SpaceError, match="FIGURE one of params, macs, activations"):
        parse_where(["flops<=4G"])
    points = [(1, 10), (2, 5), (3, 6), (4, 20), (5, 7), (0.5, 1)]
    front = pareto_front(points, capacity=lambda p: p[0], cost=lambda p: p[1])
    assert front == [(0.5, 1), (2, 5), (3, 6), (5, 7)]
    assert spread(front, 2) == [(0.5, 1), (5, 7)] and spread(front, 9) == front
    assert parse_shard("1/4") == (1, 4)
    with pytest.raises(SpaceError):
        parse_shard("4/4")


def test_the_output_folder(tmp_path: Path, run_cli) -> None:
    out = tmp_path / "sweep"
    done = run_cli("sweep", "regnetx_002", "--space", "regnet", "--samples", "60", "--where",
                   "macs<=600M", "-o", str(out), "--workers", "2")
    assert done.code == 0, done.err
    data = json.loads((out / "sweep.json").read_text())
    assert data["counts"]["variants"] == 60 and data["where"] == ["macs<=600M"]
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert len(rows) == 60
    front = [v for v in data["variants"] if v["front"]]
    assert front and all(v["macs"] <= 600e6 and v["within"] for v in front)
    for variant in front:  # each front spec validates on its own and is the variant
        spec = out / variant["spec_file"]
        checked = run_cli("summary", str(spec), "--json")
        assert checked.code == 0, checked.err
        assert json.loads(checked.out)["macs"] == variant["macs"]
        assert yaml.safe_load(spec.read_text())["name"] == "regnetx_002"
    for name in ("pareto", "edf"):
        assert (out / f"{name}.svg").read_text().startswith(("<?xml", "<svg"))
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert "on the front" in done.out


def test_shards_merge_into_the_whole(tmp_path: Path, run_cli) -> None:
    args = ["sweep", "regnetx_002", "--space", "regnet", "--samples", "30", "--seed", "5",
            "--workers", "1", "-q"]
    for part in (0, 1):
        assert run_cli(*args, "--shard", f"{part}/2", "-o", str(tmp_path / f"p{part}")).code == 0
    assert run_cli(*args, "-o", str(tmp_path / "whole")).code == 0
    merged = run_cli("sweep", "regnetx_002", "--merge", str(tmp_path / "p0"), "--merge",
                     str(tmp_path / "p1"), "-o", str(tmp_path / "merged"), "-q")
    assert merged.code == 0, merged.err
    whole = json.loads((tmp_path / "whole" / "sweep.json").read_text())
    joined = json.loads((tmp_path / "merged" / "sweep.json").read_text())
    assert joined["variants"] == whole["variants"]
    assert joined["shards"] == ["0/2", "1/2"]
    other = run_cli("sweep", "regnetx_002", "--space", "regnet", "--samples", "4", "--seed",
                    "6", "--shard", "0/2", "-o", str(tmp_path / "other"), "-q")
    assert other.code == 0
    mixed = run_cli("sweep", "regnetx_002", "--merge", str(tmp_path / "p0"), "--merge",
                    str(tmp_path / "other"))
    assert mixed.code == 2 and "a shard of another sweep" in mixed.err
    named = run_cli("sweep", "resnet18", "--merge", str(tmp_path / "p0"))
    assert named.code == 2 and "a sweep of regnetx_002, not resnet18" in named.err


def test_usage_errors(run_cli) -> None:
    no_space = run_cli("sweep", "resnet50")
    assert no_space.code == 2 and "--grid PATH=V1,V2,... or --space regnet" in no_space.err
    not_regnet = run_cli("sweep", "resnet50", "--space", "regnet")
    assert not_regnet.code == 2 and "has none: start from a RegNet spec" in not_regnet.err
    bad_where = run_cli("sweep", "resnet18", "--grid", "stages.0.depth=1,2", "--where", "x<1")
    assert bad_where.code == 2 and "--where 'x<1'" in bad_where.err
    misspelt = run_cli("sweep", "resnet18", "--grid", "stages.0.deep=1,2")
    assert misspelt.code == 1 and "no variant is a valid network" in misspelt.err
    assert "deep" in misspelt.err


def test_measure_times_the_front_through_bench(tmp_path: Path, run_cli) -> None:
    out = tmp_path / "measured"
    done = run_cli("sweep", "cifar_resnet20", "--grid", "stages.0.width=8,16",
                   "--grid", "stages.2.depth=1,3", "--measure", "eager", "--top", "1",
                   "--runs", "2", "--threads", "1", "-o", str(out), "-q")
    assert done.code == 0, done.err
    data = json.loads((out / "sweep.json").read_text())
    timed = [v for v in data["variants"] if v["latency_ms"] is not None]
    assert len(timed) == 1 and all(v["front"] for v in timed)
    assert data["measured"]["backend"] == "eager" and data["measured"]["timed"] == len(timed)
    assert data["measured"]["front"]
    assert "latency" in (out / "pareto.svg").read_text()
