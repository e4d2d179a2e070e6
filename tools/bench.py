"""Wall time of `cdk synth` for the default app against a one-bucket app, same toolchain, same run."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from pathlib import Path

OUT = Path(".bench")


def time_synth(app: str | None, out: Path) -> float:
    command = ["cdk", "synth", "--quiet", "--output", str(out)]
    if app:
        command += ["--app", app]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {"default app": [], "one-bucket app": []}
    for _ in range(args.runs):  # interleaved, so drift on the machine hits both alike
        runs["default app"].append(time_synth(None, OUT / "app"))
        runs["one-bucket app"].append(time_synth(".venv/bin/python -m tools.bench_baseline_app", OUT / "baseline"))
    medians = {name: statistics.median(times) for name, times in runs.items()}
    for name, times in runs.items():
        print(f"{name:15s} median {medians[name]:6.2f} s   runs: {', '.join(f'{t:.2f}' for t in times)}")
    print(f"ratio default/one-bucket: {medians['default app'] / medians['one-bucket app']:.2f}")


if __name__ == "__main__":
    main()
