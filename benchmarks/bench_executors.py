"""Wall time of a small cross-validation grid under the local executor and under Ray, side by side in one run,
and the projected wall time of the full DEAP kfold-trial grid spread over many workers (issue 13).

    python benchmarks/bench_executors.py --out /tmp/bench_exec [--results benchmarks/results]

The grid: a synthetic subject (24 trials x 4 s, EEG cues), EEG-only and TSception, valence, kfold-trial, 4 folds,
6 epochs: 8 fits. Both executors run it with 2 CPUs and 1 torch thread per fit: `--executor local --jobs 2` and
`--executor ray` on a local Ray cluster of 2 CPUs started here (its start-up timed apart). results.csv must be
byte-identical. Ray's overhead per task: 100 empty tasks that each return 2 MB, timed on the warm cluster.

The projection uses the per-fold training cost measured at full size (`benchmarks/results/fullsize.json`, 2 CPU
threads per fit, one epoch timed and multiplied by the presets' epochs) and, where `benchmarks/results/gpu.json`
exists (`bench_gpu.py` on a GPU), the GPU's speed-up per model; with N workers the grid takes its total / N plus
Ray's per-task overhead.
"""
import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GRID = dict(protocol="kfold-trial", models=["eeg-only", "tsception"], targets=["valence"], n_folds=4, device="cpu",
            progress=False, threads=1)


def _noop(payload: bytes) -> int:
    return len(payload)


def run(out: Path, **kw) -> float:
    from aimstf_kit.experiments import run_cv
    from aimstf_kit.train import TrainConfig
    t0 = time.perf_counter()
    run_cv(out["cache"], out["dir"], train=TrainConfig(epochs=6, patience=6), **GRID, **kw)
    return time.perf_counter() - t0


def projection(overhead_s: float) -> list:
    "Rows (what, workers, hours) for the full DEAP kfold-trial grid (2 targets, 32 subjects, 5 folds, 6 models)."
    full = json.loads((HERE / "results" / "fullsize.json").read_text())
    grid = {m: v["kfold-trial"] for m, v in full["extrapolated"]["grid_seconds"].items()}
    fits = 2 * 32 * 5 * len(grid)
    cpu_total = sum(grid.values())
    rows = [("one process, 2 CPU threads (fullsize.md)", 1, cpu_total / 3600)]
    for n in (8, 32, 128):
        rows.append((f"{n} Ray workers of 2 CPUs", n, (cpu_total + fits * overhead_s) / n / 3600))
    gpu = HERE / "results" / "gpu.json"
    if gpu.exists():
        g = json.loads(gpu.read_text())
        speed = {r["model"]: r["speedup"] for r in g["rows"]}
        gtotal = sum(s / speed.get(m, 1.0) for m, s in grid.items())
        for n in (1, 4, 8):
            rows.append((f"{n} GPU(s), 4 folds per GPU ({g['device']})", n, (gtotal + fits * overhead_s / 4) / n / 3600))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--results", type=Path, default=None, help="write executors.md / executors.json here")
    a = ap.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    from aimstf_kit.experiments import synthetic_cache
    shutil.rmtree(a.out / "runs", ignore_errors=True)
    cache = synthetic_cache(a.out / "data", signal="eeg", subjects=1, trials=24, seconds=4, seed=2, faces=False, progress=False)
    local = run(dict(cache=cache, dir=a.out / "runs" / "local"), jobs=2)
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    ray_start = time.perf_counter() - t0
    remote = run(dict(cache=cache, dir=a.out / "runs" / "ray"), executor="ray")
    remote2 = run(dict(cache=cache, dir=a.out / "runs" / "ray2"), executor="ray")  # workers already started
    noop = ray.remote(_noop).options(num_cpus=1)
    ray.get([noop.remote(b"") for _ in range(4)])
    t0 = time.perf_counter()
    ray.get([noop.remote(b"x" * 2_000_000) for _ in range(100)])  # a 2 MB payload each, like a small checkpoint
    per_task = (time.perf_counter() - t0) / 100 * 2  # 2 slots
    ray.shutdown()
    same = all((a.out / "runs" / k / "results.csv").read_bytes() == (a.out / "runs" / "local" / "results.csv").read_bytes()
               for k in ("ray", "ray2"))
    rows = projection(per_task)
    lines = ["# Local executor against Ray (`python benchmarks/bench_executors.py`)", "",
             "8 fits (EEG-only and TSception, 4 folds, 6 epochs, 24 trials x 4 s), 2 CPUs, 1 torch thread per fit.", "",
             "| executor | wall time | vs local |", "|---|---|---|",
             f"| local, --jobs 2 | {local:.1f} s | 1.00x |",
             f"| ray, 2 CPUs, first grid (workers start, import torch) | {remote:.1f} s | {remote / local:.2f}x |",
             f"| ray, 2 CPUs, second grid (workers reused) | {remote2:.1f} s | {remote2 / local:.2f}x |", "",
             f"Ray's own start-up (`ray.init`, not in the rows above): {ray_start:.1f} s. The local pool's wall time includes "
             "starting its 2 spawned processes (each imports torch and the kit), which Ray's workers pay once per cluster. "
             f"Ray's overhead per task, measured on 100 empty tasks each sending back 2 MB: {per_task * 1000:.1f} ms "
             f"(a fold trains for minutes to hours). results.csv byte-identical to local: {same}.", "",
             "Projected wall time of the full DEAP kfold-trial grid (2 targets x 32 subjects x 5 folds x 6 models = "
             "1,920 fits, the presets' epochs, per-fold cost from `fullsize.json`; Ray's overhead per task added):", "",
             "| where | workers | hours |", "|---|---|---|"]
    lines += [f"| {w} | {n} | {h:,.1f} |" for w, n, h in rows]
    if not (HERE / "results" / "gpu.json").exists():
        lines += ["", "No GPU row: no GPU was measured (`benchmarks/bench_gpu.py` writes `gpu.json` where one is)."]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.results:
        (a.results / "executors.md").write_text(text)
        (a.results / "executors.json").write_text(json.dumps(dict(local_s=local, ray_s=remote, ray_warm_s=remote2,
                                                                  ray_start_s=ray_start, overhead_per_task_s=per_task,
                                                                  identical=same, projection=rows), indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
