"""Speed of the synthetic generator on this machine, printed side by side in one run.

    python benchmarks/bench_synth.py            # all cases
    python benchmarks/bench_synth.py --quick    # skip the DEAP-size MAHNOB case

Targets (issue 2): one DEAP-size subject (40 trials x 63 s, no video) under 5 s;
`--trials 4 --seconds 10` with video under 20 s.
"""
import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from aimstf_kit.synth import SynthConfig, synth


def run(dataset, cfg, repeat=1):
    best = float("inf")
    for _ in range(repeat):
        out = Path(tempfile.mkdtemp(prefix="aimstf-bench-"))
        t0 = time.perf_counter()
        s = synth(dataset, out, cfg, progress=False)
        best = min(best, time.perf_counter() - t0)
        size = sum(p.stat().st_size for k in s.files for p in s.files[k])
        shutil.rmtree(out)
    return best, size, s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    cases = [
        ("deap", "1 DEAP-size subject, 40 trials x (3+60) s, no video", SynthConfig(subjects=1, trials=40, seconds=60, video=False), 5.0),
        ("deap", "1 subject, --trials 4 --seconds 10, with video (50 fps 720x576)", SynthConfig(subjects=1, trials=4, seconds=10), 20.0),
        ("mahnob", "1 subject, --trials 4 --seconds 10, with video (61 fps 780x580)", SynthConfig(subjects=1, trials=4, seconds=10), None),
    ]
    if not a.quick:
        cases.append(("mahnob", "1 subject, 20 sessions x (30+60+2) s at 256 Hz, no video",
                      SynthConfig(subjects=1, trials=20, seconds=60, video=False), None))
    print(f"threads: {os.cpu_count()} cores; best of {a.repeat}")
    print(f"{'case':<70} {'seconds':>8} {'target':>7} {'ratio':>6} {'MB':>7}")
    for dataset, label, cfg, target in cases:
        t, size, s = run(dataset, cfg, a.repeat)
        ratio = f"{target / t:.1f}x" if target else "-"
        print(f"{dataset + ': ' + label:<70} {t:>8.2f} {target or '-':>7} {ratio:>6} {size / 1e6:>7.1f}")


if __name__ == "__main__":
    main()
