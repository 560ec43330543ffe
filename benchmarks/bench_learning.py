"""Does each model learn what the synthetic data plant? kfold-trial cross-validation on three scenarios.

    python benchmarks/bench_learning.py --out /tmp/learn --only complementary              # about 45 min on 2 cores
    python benchmarks/bench_learning.py --out /tmp/learn2 --only both,eeg --seconds 10     # about 25 min
    python benchmarks/bench_learning.py --out /tmp/learn3                                  # all three, 20-s trials

Scenarios (DEAP format, 1 subject x 40 trials x 20 s unless --seconds, EEG cue strength 1.5, valence, 5 folds) and
the checks of issue 5:
- `both`: labels in the EEG and the face; AIMSTF ("paper") must reach >= 90 % mean test accuracy;
- `complementary`: each trial's label in one modality only; AIMSTF must beat the EEG-only and the
  face-only baselines by >= 15 points;
- `eeg`: labels in the EEG only; face-only must stay near chance (within 10 points of 50 %).
Training: Adam lr 1e-3 with a cosine schedule, batch 32, EEG `spectral` augmentation, 20 epochs, selection on
validation; one fold at a time on 2 threads (faster here than 2 single-thread workers).
Prints a markdown table and the checks, and writes them to OUT/learning.md. Re-running resumes.

The scenarios, the checks and the runner are `aimstf_kit.learning` (nbs/23_synthetic_cv.ipynb); this script
is its command line.
"""
import argparse
import sys
from pathlib import Path

import torch

from aimstf_kit.learning import SCENARIOS, run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(sorted(SCENARIOS))}")
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--patience", type=int, default=20)
    ap.add_argument("--strength", type=float, default=1.5)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    r = run(a.out, a.only.split(",") if a.only else None, a.trials, a.seconds, a.epochs, a.patience, a.strength, a.jobs)
    return 0 if all(ok for *_, ok in r["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
