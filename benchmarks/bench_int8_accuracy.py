"""int8 accuracy on real data with no download (issue 22): scikit-learn's bundled digits.

Trains a small ResNet spec (1×8×8 input, two stages of basic blocks) on the training split for
a few epochs, exports it with `--precision int8` to onnx and openvino, calibrated on the
training split (a .npy of the preprocessed images, as `--calibration` takes it), and reports
the fp32 module's and each int8 file's accuracy on the test split, the drop, and the int8
files' top-1 agreement with fp32. Targets: drop at most 0.5 points, agreement at least 99%.

    python benchmarks/bench_int8_accuracy.py [--epochs 8] [--seed 0] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

MAX_DROP_POINTS = 0.5
MIN_AGREEMENT = 0.99
SPEC = {
    "name": "digits_resnet",
    "description": "a small ResNet for scikit-learn's 8x8 digits",
    "input": {"channels": 1, "height": 8, "width": 8},
    "stem": {"kind": "conv", "width": 32, "kernel": 3, "stride": 1, "pool": "none"},
    "block": {"kind": "basic"},
    "stages": [{"depth": 2, "width": 32}, {"depth": 2, "width": 64, "stride": 2}],
    "head": {"classes": 10},
}


def digits(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train and test images (N×1×8×8 float32, standardized with the training split's mean
    and std) and labels; a stratified 75/25 split."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise SystemExit("this benchmark needs scikit-learn for its bundled digits: "
                         "pip install scikit-learn") from None
    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)[:, None]
    x_train, x_test, y_train, y_test = train_test_split(
        images, data.target, test_size=0.25, stratify=data.target, random_state=seed)
    mean, std = float(x_train.mean()), float(x_train.std())
    return (x_train - mean) / std, (x_test - mean) / std, y_train, y_test


def train(x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> object:
    import torch

    import resnet_spec

    torch.manual_seed(seed)
    model = resnet_spec.build(SPEC, seed=seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = epochs * ((len(x) + 63) // 64)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps)
    inputs, labels = torch.from_numpy(x), torch.from_numpy(y).long()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 64):
            batch = order[start:start + 64]
            loss = torch.nn.functional.cross_entropy(model(inputs[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import onnxruntime as ort
    import openvino as ov
    import torch

    from resnet_spec.compiler.export import save_safetensors
    from resnet_spec.pipeline.run import run_export

    torch.set_num_threads(args.threads)
    x_train, x_test, y_train, y_test = digits(args.seed)
    model = train(x_train, y_train, args.epochs, args.seed)
    with torch.no_grad():
        fp32 = model(torch.from_numpy(x_test)).numpy().argmax(axis=1)
    with tempfile.TemporaryDirectory(prefix="digits-int8-") as folder:
        root = Path(folder)
        save_safetensors(model, root / "digits.safetensors")
        np.save(root / "train.npy", x_train)
        run_export(SPEC, ["onnx", "openvino"], root / "out", weights=root / "digits.safetensors",
                   precision="int8", calibration=str(root / "train.npy"))
        session = ort.InferenceSession(str(root / "out/model.onnx"),
                                       providers=["CPUExecutionProvider"])
        compiled = ov.Core().compile_model(str(root / "out/openvino/model.xml"), "CPU",
                                           {"INFERENCE_PRECISION_HINT": "f32"})
        int8 = {"onnxruntime": session.run(None, {"images": x_test})[0].argmax(axis=1),
                "openvino": compiled({"images": x_test})[0].argmax(axis=1)}
    report(args, fp32, int8, y_test, len(x_train))


def report(args: argparse.Namespace, fp32: np.ndarray, int8: dict[str, np.ndarray],
           labels: np.ndarray, train_size: int) -> None:
    base = float((fp32 == labels).mean()) * 100
    print(f"digits (scikit-learn, 8x8): {train_size} train / {len(labels)} test images, "
          f"{args.epochs} epochs, seed {args.seed}; calibrated on the training split")
    print(f"  fp32 (torch)           accuracy {base:6.2f}%")
    failed = False
    for runtime, predicted in int8.items():
        accuracy = float((predicted == labels).mean()) * 100
        agreement = float((predicted == fp32).mean())
        drop = base - accuracy
        ok = drop <= MAX_DROP_POINTS and agreement >= MIN_AGREEMENT
        failed |= not ok
        print(f"  int8 {runtime:<17} accuracy {accuracy:6.2f}%  drop {drop:+5.2f} points  "
              f"top-1 agreement {agreement:7.2%}  "
              f"{'meets' if ok else 'MISSES'} the targets (drop <= {MAX_DROP_POINTS} points, "
              f"agreement >= {MIN_AGREEMENT:.0%})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
