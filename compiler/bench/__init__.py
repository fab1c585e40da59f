"""Inference speed, one backend per process: `python -m resnet_spec.compiler.bench JSON`.

`resnet-spec bench` (resnet_spec/cli/bench_cmd.py) starts this module once to prepare the files
(`prepare`: the weights, and the onnx, openvino and aoti targets, each checked as `export`
checks them) and then once per backend, so that no two runtimes' thread pools ever share a process:
measured on 2 cores, they fight over the cores and slow each other 20 to 40 times. Each run
prints one JSON object on stdout.

A backend is loaded, run `warmup` times untimed, then `runs` times timed per batch size; the
figures are the runs' minimum, quartiles, median and maximum (`resnet_spec.deploy.bench_stats`). The
runtimes' own telemetry is off in every process (`compiler/telemetry.py`).
"""
