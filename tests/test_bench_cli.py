"""`resnet-spec bench --json` on a small spec with a tiny run count: the shape of the report,
skipped backends with their reason, the spread of every figure, and a fastest named only beyond
the noise (the judging itself: tests/test_bench_stats.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("onnxruntime")


def test_bench_json_reports_each_backend_from_its_own_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "resnet_spec", "bench", "cifar_resnet20", "--backends",
         "eager,inference,onnxruntime,tensorrt", "--batch", "1,2", "--runs", "2", "--warmup",
         "1", "--threads", "1", "--json"],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["name"] == "cifar_resnet20" and report["batches"] == [1, 2]
    assert report["threads"] == 1 and report["runs"] == 2
    assert list(report["backends"]) == ["eager", "inference", "onnxruntime", "tensorrt"]
    for name in ("eager", "inference", "onnxruntime"):
        result = report["backends"][name]
        assert result["status"] == "ok", result
        for batch in ("1", "2"):
            figures = result["batches"][batch]
            assert figures["runs"] == 2 and figures["median_ms"] > 0
            assert (figures["min_ms"] <= figures["q1_ms"] <= figures["median_ms"]
                    <= figures["q3_ms"] <= figures["max_ms"])
            assert figures["spread"] >= 0
            assert figures["images_per_s"] == pytest.approx(int(batch) * 1e3
                                                            / figures["median_ms"])
            assert figures["speedup"] > 0
    assert report["backends"]["eager"]["batches"]["1"]["speedup"] == 1.0
    trt = report["backends"]["tensorrt"]
    if trt["status"] == "skipped":
        assert "tensorrt" in trt["reason"]
    for batch, best in report["fastest"].items():
        times = {name: r["batches"][batch]["median_ms"]
                 for name, r in report["backends"].items() if r["status"] == "ok"}
        lowest = min(times, key=times.__getitem__)
        assert report["within_noise"][batch][0] == lowest
        assert best in (lowest, None)
    assert report["cores"] >= 1 and len(report["load_averages"]) == 5
    assert report["checks"]["onnx"]["passed"]


def timed(median: float, q1: float, q3: float) -> dict:
    """A backend's figures at batch 1 as the worker reports them (milliseconds)."""
    return {"status": "ok", "batches": {"1": {
        "min_ms": q1 - 0.5, "q1_ms": q1, "median_ms": median, "q3_ms": q3, "max_ms": q3 + 1,
        "spread": (q3 - q1) / median, "images_per_s": 1e3 / median, "runs": 20}}}


def test_the_table_gives_spreads_speedups_skips_and_a_clear_fastest() -> None:
    from resnet_spec.cli.bench_cmd import _report, _table

    results = {"eager": timed(40.0, 39.5, 40.5), "onnxruntime": timed(20.0, 19.8, 20.2),
               "tensorrt": {"status": "skipped", "reason": "no CUDA GPU"}}
    report = _report("r50", "resnet50", (1,), 2, 20, 1, "fp32", results, {}, [0.5, 0.7], 2)
    assert report["fastest"] == {"1": "onnxruntime"} and report["warnings"] == []
    table = _table(report)
    assert ("onnxruntime      1    20.00 ms  19.80-20.20 ms  19.30-21.20 ms   2.0%      50.0"
            "    2.00x") in table
    assert "tensorrt     skipped: no CUDA GPU" in table
    assert "fastest at batch 1: onnxruntime (2.00x eager), beyond the noise" in table
    assert "load average during the run: 0.70 (highest of 2 readings; 2 cores)" in table


def test_the_table_names_no_fastest_within_the_noise_and_warns() -> None:
    from resnet_spec.cli.bench_cmd import _report, _table

    results = {"eager": timed(40.0, 30.0, 52.0), "onnxruntime": timed(20.0, 19.0, 21.0),
               "openvino": timed(20.5, 20.8 - 0.3, 22.0)}
    report = _report("r50", "resnet50", (1,), 2, 20, 1, "fp32", results, {}, [1.0, 3.5], 2)
    assert report["fastest"] == {"1": None}
    assert report["within_noise"] == {"1": ["onnxruntime", "openvino"]}
    table = _table(report)
    assert ("batch 1: no fastest named: onnxruntime, openvino are within the noise of each "
            "other (their quartiles overlap)") in table
    assert "fastest at" not in table
    assert "warning: the load average reached 3.50 on 2 cores" in table
    assert "warning: spread (interquartile range / median) over 10%: eager batch 1 (55%)" in table


def test_bad_backend_names_are_usage_errors() -> None:
    bad = subprocess.run([sys.executable, "-m", "resnet_spec", "bench", "cifar_resnet20",
                          "--backends", "eager,tflite"], capture_output=True, text=True,
                         timeout=120, check=False)
    assert bad.returncode == 2 and "unknown backend 'tflite'" in bad.stderr
