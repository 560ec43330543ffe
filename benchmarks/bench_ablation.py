"""What is each of the kit's additions worth? Each switched off one at a time, on the models it affects (issue 12).

    python benchmarks/bench_ablation.py --out /tmp/abl --results benchmarks/results                  # everything, many hours
    python benchmarks/bench_ablation.py --out /tmp/abl --tasks eeg --models eeg-only --seeds 0 \\
        --results benchmarks/results                                                                  # a part

Setup (the learning benchmark's): DEAP format, 1 subject x 40 trials x 10 s, cue strength 1.0, valence,
kfold-trial, 5 folds, training seeds 0 and 1, `TrainConfig()` defaults. Tasks: `eeg` (labels in the EEG only) and
`complementary` (each trial's label in one modality). Per task, a `defaults` run and one run per addition switched
off (`aimstf_kit.ablation.ABLATIONS`): the log-power EEG readout, the EEG temporal stage per electrode, the
spectral EEG augmentation, ImageNet standardisation of faces, feature BatchNorm (before the fusion; before
face-only's head), CMD on batch-rescaled codes, the cosine schedule.
With --defaults-from LEARNING_OUT, the learning benchmark's finished runs of the same setup and data (setup.json and
the caches' content hashes are checked) are the defaults runs: the complementary task's three models and the eeg
task's eeg-only; the eeg task's AIMSTF is not in the learning benchmark and is trained here.
Every (task, run, model, seed) is a resumable `run_cv` folder under OUT; parts run separately add up.
RESULTS/ablation.{json,md,png} hold the effects of what has finished and the list of what was not run.

The ablations, runner and report are `aimstf_kit.ablation` (nbs/24_ablation.ipynb); this is its command line.
"""
import argparse
import sys
from pathlib import Path

import torch

from aimstf_kit.ablation import ABLATIONS, TASKS, run
from aimstf_kit.learning import benchmark_options


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    benchmark_options(ap, "ablation.{json,md,png}")
    ap.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(ABLATIONS)}")
    ap.add_argument("--tasks", default=None, help=f"comma-separated subset of {','.join(TASKS)}")
    ap.add_argument("--models", default=None, help="comma-separated subset of aimstf,eeg-only,face-only")
    ap.add_argument("--defaults-from", type=Path, default=None,
                    help="a learning benchmark's --out whose finished runs (same setup and data, checked) stand for "
                         "the defaults runs instead of training them again")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    split = lambda s: s.split(",") if s else None
    run(a.out, split(a.only), split(a.tasks), split(a.models), [int(s) for s in a.seeds.split(",")], a.trials,
        a.seconds, a.strength, jobs=a.jobs, results=a.results, defaults_from=a.defaults_from)
    print((Path(a.results or a.out) / "ablation.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
