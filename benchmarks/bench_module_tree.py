"""Eager inference speed of the compiled module tree (issue 14) against torchvision's model.

Three layouts of the same network, each timed alone in its own process with the same protocol
(threads, warm-up, median of --runs), taking turns over --rounds so that load from other
processes hits all alike:

- `torchvision`: torchvision's constructor, eval mode: the anchor;
- `tree`: `resnet_spec.build(MODEL).eval()`, torchvision's tree of blocks, each block a small
  fx GraphModule;
- `flat`: the same module flattened into one fx graph of leaf modules, the layout the compiler
  produced before the tree.

The tree must not be slower than the flat layout (a ratio tree/flat near 1.00).

    python benchmarks/bench_module_tree.py [--model resnet50] [--threads 2] [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics

from timing import eager_arguments, eager_ms

LAYOUTS = ("torchvision", "tree", "flat")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    eager_arguments(parser, rounds=3, rounds_help="turns taken by the layouts")
    args = parser.parse_args()

    samples: dict[str, dict[str, list[float]]] = {layout: {} for layout in LAYOUTS}
    for _ in range(args.rounds):
        for layout in LAYOUTS:
            for batch, ms in eager_ms(layout, args).items():
                samples[layout].setdefault(batch, []).append(ms)
    print(f"{args.model}, {args.threads} threads, median of {args.runs} runs x {args.rounds} "
          "rounds, eval mode, inference_mode")
    print(f"{'batch':>5} {'torchvision':>12} {'tree':>10} {'flat':>10} {'tree/tv':>8} "
          f"{'tree/flat':>9}")
    for batch in samples["tree"]:
        ms = {layout: statistics.median(samples[layout][batch]) for layout in LAYOUTS}
        print(f"{batch:>5} {ms['torchvision']:>9.1f} ms {ms['tree']:>7.1f} ms "
              f"{ms['flat']:>7.1f} ms {ms['tree'] / ms['torchvision']:>8.2f} "
              f"{ms['tree'] / ms['flat']:>9.2f}")


if __name__ == "__main__":
    main()
