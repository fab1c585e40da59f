"""`resnet-spec bench --json` on a small spec with a tiny run count: the shape of the report,
skipped backends with their reason, the fastest named."""

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
        assert best == min(times, key=times.__getitem__)
    assert report["checks"]["onnx"]["passed"]


def test_the_table_gives_speedups_skips_and_the_fastest() -> None:
    from resnet_spec.cli.bench_cmd import _report, _table

    def timed(ms: float) -> dict:
        return {"status": "ok", "batches": {"1": {"median_ms": ms, "min_ms": ms,
                                                  "images_per_s": 1e3 / ms, "runs": 3}}}

    results = {"eager": timed(40.0), "onnxruntime": timed(20.0),
               "tensorrt": {"status": "skipped", "reason": "no CUDA GPU"}}
    report = _report("r50", "resnet50", (1,), 2, 3, 1, "fp32", results, {})
    assert report["fastest"] == {"1": "onnxruntime"}
    table = _table(report)
    assert "onnxruntime      1    20.00 ms      50.0    2.00x" in table
    assert "tensorrt     skipped: no CUDA GPU" in table
    assert "fastest at batch 1: onnxruntime (2.00x eager)" in table


def test_bad_backend_names_are_usage_errors() -> None:
    bad = subprocess.run([sys.executable, "-m", "resnet_spec", "bench", "cifar_resnet20",
                          "--backends", "eager,tflite"], capture_output=True, text=True,
                         timeout=120, check=False)
    assert bad.returncode == 2 and "unknown backend 'tflite'" in bad.stderr
