"""Peak memory of `interpret.explain_sample` as the number of class-average samples grows.

`explain_sample` explains one sample's faces and, for the class averages, the EEG of up to
`max_class_samples` test samples with Integrated Gradients (32 steps, the faces held fixed). Before
`internal_batch_size`, Captum pushed every sample x every step through the model at once (256 samples:
8,192 bimodal inputs, faces included); now the model sees at most `internal_batch_size` inputs at a time.

Each (samples, internal_batch_size) point runs in a fresh subprocess, which reports its own peak RSS
(`resource.getrusage(RUSAGE_SELF).ru_maxrss`). The model is an untrained AIMSTF ("paper" variant, the
kit's default size): memory does not depend on the weights. The cache is synthetic (1 subject, 9 trials
x 30 s with faces = 270 samples).

    python benchmarks/bench_explain_memory.py [--results benchmarks/results] [--before]

`--before` also measures `internal_batch_size=None` (everything at once, the old behaviour) for 16 and
64 samples (256 would need several GB).
"""
import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = (16, 64, 256)
TARGET_MB = 2048


def child(work: Path, n: int, ibs, steps: int = 32):
    "Run in the subprocess: explain_sample with `n` class samples; print a JSON line with peak RSS and time."
    import numpy as np
    import torch
    from types import SimpleNamespace
    from aimstf_kit.cache import open_cache
    from aimstf_kit.interpret import Fold, explain_sample
    from aimstf_kit.models.aimstf import AIMSTF
    torch.set_num_threads(2)
    cache = open_cache(work / "cache")
    torch.manual_seed(0)
    model = AIMSTF("paper").eval()
    split = SimpleNamespace(name="all", test=np.arange(len(cache)), train=np.array([], int))
    fold = Fold(model, "aimstf", "valence", split, work / "none.pt", cache, {"train": {"threshold": 5.0, "rule": ">="}})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    info = explain_sample(fold, 0, work / f"out_{n}_{ibs}", max_class_samples=n, internal_batch_size=ibs,
                          ig_steps=steps)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB
    print(json.dumps(dict(samples=info["class_average_samples"], requested=n, internal_batch_size=ibs, ig_steps=steps,
                          peak_rss_mb=round(peak, 1), rss_before_explain_mb=round(before, 1), seconds=round(dt, 1))))


def prepare_cache(work: Path) -> None:
    "The synthetic cache the children share (270 samples with faces)."
    from aimstf_kit.core import PrepareConfig
    from aimstf_kit.prepare import prepare
    from aimstf_kit.synth import SynthConfig, synth_deap
    synth_deap(work / "DEAP", SynthConfig(subjects=1, trials=9, seconds=30, seed=3), progress=False)
    prepare("deap", work / "DEAP", work / "cache", PrepareConfig(), progress=False)


def run_point(work: Path, n: int, ibs, steps: int) -> dict:
    "One measurement in a fresh interpreter."
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_explain_memory as b; "
            f"from pathlib import Path; b.child(Path({str(work)!r}), {n}, {ibs!r}, {steps})")
    r = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", code], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"child for {n} samples, internal_batch_size={ibs} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def table(rows: list) -> str:
    "The markdown table of the measurements."
    lines = ["| class samples | internal_batch_size | peak RSS (MB) | RSS before explaining (MB) | time (s) |",
             "|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['samples']} | {r['internal_batch_size']} | {r['peak_rss_mb']:.0f} | "
                     f"{r['rss_before_explain_mb']:.0f} | {r['seconds']:.1f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=None, help="write explain_memory.md/.json here")
    ap.add_argument("--before", action="store_true", help="also measure internal_batch_size=None (16, 64 samples)")
    ap.add_argument("--ig-steps", type=int, default=32, help="Integrated Gradients steps (explain_sample's default: 32)")
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="class-average sample counts")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        prepare_cache(work)
        points = [(n, 64) for n in a.sizes] + ([(n, None) for n in a.sizes[:2]] if a.before else [])
        rows = []
        for n, ibs in points:
            rows.append(run_point(work, n, ibs, a.ig_steps))
            print(rows[-1], flush=True)
    after = [r for r in rows if r["internal_batch_size"] == 64]
    ok = max(r["peak_rss_mb"] for r in after) < TARGET_MB
    growth = after[-1]["peak_rss_mb"] - after[0]["peak_rss_mb"]
    verdict = (f"{after[-1]['samples']} samples: {after[-1]['peak_rss_mb']:.0f} MB peak "
               f"({'below' if ok else 'ABOVE'} the 2 GB target)"
               + (f"; {growth:+.0f} MB from {after[0]['samples']} to {after[-1]['samples']} samples." if len(after) > 1 else "."))
    md = "\n".join(["# explain_sample peak memory", "", f"`python benchmarks/bench_explain_memory.py "
                    f"--results benchmarks/results --ig-steps {a.ig_steps} --sizes {' '.join(map(str, a.sizes))}"
                    f"{' --before' if a.before else ''}`; {platform.processor() or platform.machine()},"
                    f" Python {platform.python_version()}, 2 torch threads; one fresh process per row, peak RSS from "
                    f"`getrusage`; untrained AIMSTF (paper variant), {a.ig_steps} Integrated Gradients steps, a 270-sample synthetic "
                    "cache with faces.", "", table(rows), "", verdict, ""])
    print(md)
    if a.results:
        a.results.mkdir(parents=True, exist_ok=True)
        (a.results / "explain_memory.md").write_text(md)
        (a.results / "explain_memory.json").write_text(json.dumps(dict(rows=rows, target_mb=TARGET_MB, ok=ok), indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
