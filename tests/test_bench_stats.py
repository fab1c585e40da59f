"""The judging of `bench`'s timings (`resnet_spec.deploy.bench_stats`) on synthetic timings:
quartiles and spread, a fastest only beyond the noise, the warnings for spread and load."""

from __future__ import annotations

import pytest

from resnet_spec.deploy.bench_stats import SPREAD_LIMIT, judge, leaders, summarize, within_noise


def figures(q1: float, median: float, q3: float) -> dict[str, float]:
    return {"min_ms": q1, "q1_ms": q1, "median_ms": median, "q3_ms": q3, "max_ms": q3,
            "spread": (q3 - q1) / median}


def ok(**batches: dict[str, float]) -> dict:
    return {"status": "ok", "batches": {key.removeprefix("b"): f for key, f in batches.items()}}


def test_summarize_gives_milliseconds_quartiles_and_the_spread() -> None:
    s = summarize([0.010, 0.011, 0.012, 0.013, 0.100])  # one stray run
    assert s["min_ms"] == pytest.approx(10) and s["max_ms"] == pytest.approx(100)
    assert s["median_ms"] == pytest.approx(12) and s["runs"] == 5
    assert (s["q1_ms"], s["q3_ms"]) == (pytest.approx(11), pytest.approx(13))
    assert s["spread"] == pytest.approx(2 / 12)  # the stray run moves max, not the spread
    one = summarize([0.004])
    assert one["q1_ms"] == one["q3_ms"] == one["median_ms"] == pytest.approx(4)
    assert one["spread"] == 0
    with pytest.raises(ValueError):
        summarize([])


def test_overlapping_quartiles_are_within_the_noise() -> None:
    fast, close, far = figures(9, 10, 11), figures(10.5, 11, 12), figures(11.5, 12, 13)
    assert within_noise(fast, close) and not within_noise(fast, far)
    assert within_noise(fast, figures(11, 12, 13))  # touching counts as overlapping
    assert leaders({"a": far, "b": fast, "c": close}) == ["b", "c"]
    assert leaders({"a": far, "b": fast}) == ["b"]
    assert leaders({}) == []


def test_judge_names_a_fastest_only_beyond_the_noise() -> None:
    results = {"eager": ok(b1=figures(19, 20, 21), b8=figures(95, 100, 104)),
               "onnxruntime": ok(b1=figures(9.8, 10, 10.2), b8=figures(50, 51, 52)),
               "openvino": ok(b1=figures(10.1, 10.4, 10.6), b8=figures(60, 61, 62)),
               "tensorrt": {"status": "skipped", "reason": "no GPU"}}
    verdict = judge(results, [1, 8], [0.4, 1.2], cores=2)
    assert verdict["fastest"] == {"1": None, "8": "onnxruntime"}
    assert verdict["within_noise"] == {"1": ["onnxruntime", "openvino"], "8": ["onnxruntime"]}
    assert verdict["warnings"] == []


def test_judge_names_nothing_and_warns_when_the_load_exceeds_the_cores() -> None:
    """The trial run of issue 22: eager 952 ms at batch 1 at load average 1306."""
    results = {"eager": ok(b1=figures(900, 952, 1000)),
               "onnxruntime": ok(b1=figures(9.9, 10, 10.1))}
    verdict = judge(results, [1], [2.0, 1306.0], cores=2)
    assert verdict["fastest"] == {"1": None}
    assert verdict["within_noise"] == {"1": ["onnxruntime"]}
    assert verdict["warnings"][0].startswith("the load average reached 1306.00 on 2 cores")
    assert judge(results, [1], [2.0], cores=2)["fastest"] == {"1": "onnxruntime"}


def test_judge_warns_of_each_spread_over_the_limit() -> None:
    wide = figures(8, 10, 10 + 10 * SPREAD_LIMIT)  # 8..11 over a median of 10: 30%
    edge = figures(10, 10, 10 + 10 * SPREAD_LIMIT)  # exactly the limit: no warning
    verdict = judge({"eager": ok(b1=wide), "inference": ok(b1=edge)}, [1], [0.1], cores=2)
    assert verdict["warnings"] == [
        f"spread (interquartile range / median) over {SPREAD_LIMIT:.0%}: eager batch 1 (30%); "
        "rerun with more --runs or on a quieter machine"]
