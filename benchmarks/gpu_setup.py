"""Carrying the project to a GPU machine that has its own torch and no network (issue 26).

The GPU machine that sessions of this project are sometimes lent (Python 3.12, torch with CUDA,
torchvision, numpy, pyyaml, networkx, safetensors, click, rich; nothing can be fetched there)
lacks some of the project's small pure-Python dependencies. Here, with the network, `download`
saves their wheels, at the versions installed here, for CPython 3.12 on x86-64 Linux:

    python benchmarks/gpu_setup.py download .whl

There, `gpu_check.py --wheels .whl` calls `install` first: each carried wheel whose package is
missing or older is installed, then the project itself from the working tree, all with
`--no-deps --no-index` into a folder of their own (`--site`) that goes first on the path. The
machine's torch, numpy and everything else stay as they are.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

CARRIED = ("pydantic", "pydantic-core", "annotated-types", "typing-inspection",
           "typing-extensions", "graphviz")
"""The project's dependencies that the GPU machine's image lacks, or may hold too old
(pydantic 2.12 and later need a recent typing-extensions). Not graphviz-pure: a 6 MB layout
binary that only drawing diagrams needs."""

PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")
"""pip matches a manylinux tag exactly: the ones pydantic-core's wheels carry."""

DEFAULT_SITE = Path("/tmp/resnet-spec-site")


def download(folder: Path, python_version: str = "3.12") -> list[Path]:
    """Wheels of CARRIED at this machine's versions into `folder`, for the GPU machine."""
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in CARRIED]
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--only-binary=:all:", "--python-version", python_version,
               "--implementation", "cp", "-d", str(folder)]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    subprocess.run([*command, *pins], check=True)
    return sorted(folder.glob("*.whl"))


def wheel_name_version(path: Path) -> tuple[str, str]:
    """A wheel file's distribution name (normalized: lower case, `-`) and version."""
    name, version = path.name.split("-")[:2]
    return name.replace("_", "-").replace(".", "-").lower(), version


def needed(path: Path) -> bool:
    """Whether the wheel's package is missing here or older than the wheel."""
    name, version = wheel_name_version(path)
    try:
        installed = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return True
    try:
        from packaging.version import Version
    except ModuleNotFoundError:  # without packaging: a different version is taken as older
        return installed != version
    return Version(installed) < Version(version)


def install(root: Path, wheels: Path, site: Path = DEFAULT_SITE) -> list[str]:
    """Install the wheels this machine needs and the project at `root` into `site`, then put
    `site` first on this process's path and its children's. Returns what was installed."""
    if not wheels.is_dir():
        raise SystemExit(f"--wheels {wheels}: no such folder (make it with "
                         f"`python benchmarks/gpu_setup.py download {wheels}` where pip works)")
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--no-index", "--no-deps", "--no-compile", "--no-cache-dir", "--upgrade",
           "--target", str(site)]
    chosen = [path for path in sorted(wheels.glob("*.whl")) if needed(path)]
    if chosen:
        _pip([*pip, *map(str, chosen)])
    # no build isolation: it would fetch setuptools; the machine's own builds the wheel
    _pip([*pip, "--no-build-isolation", str(root)])
    sys.path.insert(0, str(site))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
    importlib.invalidate_caches()
    return [path.name for path in chosen] + [f"resnet-spec from {root}"]


def _pip(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"pip install failed ({' '.join(command[-3:])}):\n"
                         f"{done.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("download", help="save the wheels the GPU machine lacks (needs pip's "
                                          "network)")
    get.add_argument("folder", type=Path, nargs="?", default=Path(".whl"))
    get.add_argument("--python-version", default="3.12")
    args = parser.parse_args()
    for path in download(args.folder, args.python_version):
        print(f"{path}  {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
