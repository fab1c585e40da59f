"""One eager timing, run as its own process by the benchmarks: a model in eval mode, warm-up,
then the median of repeated runs per batch size, printed as JSON `{batch: milliseconds}`.

    python benchmarks/eager_worker.py LAYOUT MODEL BATCHES RUNS WARMUP THREADS

LAYOUT: `torchvision` (torchvision's constructor), `tree` (`resnet_spec.build(MODEL)`) or
`flat` (the same module flattened into one fx graph, the layout before issue 14).
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import numpy as np
import torch


def model(layout: str, name: str) -> torch.nn.Module:
    if layout == "torchvision":
        import torchvision

        return torchvision.models.get_model(name).eval()
    import resnet_spec
    from resnet_spec.compiler.passes import flatten

    net = resnet_spec.build(name).eval()
    return flatten(net) if layout == "flat" else net


def median_ms(net: torch.nn.Module, batch: int, runs: int, warmup: int) -> float:
    shape = (batch, 3, 224, 224)
    x = torch.from_numpy(np.random.default_rng(batch).standard_normal(shape, dtype=np.float32))
    times = []
    with torch.inference_mode():
        for i in range(warmup + runs):
            start = time.perf_counter()
            net(x)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    layout, name, batches = sys.argv[1:4]
    runs, warmup, threads = (int(a) for a in sys.argv[4:7])
    torch.set_num_threads(threads)
    net = model(layout, name)
    print(json.dumps({batch: median_ms(net, int(batch), runs, warmup)
                      for batch in batches.split(",")}))


if __name__ == "__main__":
    main()
