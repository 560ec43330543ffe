"""Does each model learn what the synthetic data plant, with the defaults `aimstf cv` uses? (issue 12's targets)

    python benchmarks/bench_learning.py --out /tmp/learn --results benchmarks/results            # everything, hours
    python benchmarks/bench_learning.py --out /tmp/learn --only eeg,both --seeds 0 --results benchmarks/results  # a part

Scenarios (DEAP format, 1 subject x 40 trials x 10 s, cue strength 1.0, valence, kfold-trial, 5 folds, training
seeds 0 and 1, `TrainConfig()` defaults) and their checks (mean test accuracy over folds and seeds):
- `eeg` (labels in the EEG only): EEG-only >= 0.85, face-only within 0.10 of chance;
- `face` (labels in the face only): face-only >= 0.85, EEG-only within 0.10 of chance;
- `complementary` (each trial's label in one modality): EEG-only and face-only each within 0.08 of its
  ceiling (about 0.75), AIMSTF >= 0.90;
- `both`: AIMSTF >= 0.95.
Every (scenario, seed) is a resumable `run_cv` folder under OUT: re-running the same command continues an
interrupted benchmark, and parts run separately add up. RESULTS/learning.{json,md,png} hold what has finished,
the checks of the complete scenarios and the list of what was not run. Exit status 0 when every check of the
complete scenarios passed.

The scenarios, checks and runner are `aimstf_kit.learning` (nbs/23_synthetic_cv.ipynb); this is its command line.
"""
import argparse
import sys
from pathlib import Path

import torch

from aimstf_kit.learning import SCENARIOS, benchmark_options, run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    benchmark_options(ap, "learning.{json,md,png}")
    ap.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(SCENARIOS)}")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    seeds = [int(s) for s in a.seeds.split(",")]
    r = run(a.out, a.only.split(",") if a.only else None, seeds, a.trials, a.seconds, a.strength, jobs=a.jobs,
            results=a.results)
    print((Path(a.results or a.out) / "learning.md").read_text())
    return 0 if all(ok for *_, ok in r["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
