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
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

from aimstf_kit.experiments import synthetic_cv
from aimstf_kit.train import TrainConfig

SCENARIOS = {  # the models each check needs
    "complementary": ("aimstf", "eeg-only", "face-only"),
    "both": ("aimstf",),
    "eeg": ("face-only",),
}


def checks(means: dict) -> list:
    "(scenario, description, value, passed) for every check whose scenario was run."
    out = []
    if "both" in means:
        v = means["both"]["aimstf"]
        out.append(("both", "AIMSTF mean test accuracy >= 0.90", v, v >= 0.90))
    if "complementary" in means:
        m = means["complementary"]
        gap = m["aimstf"] - max(m["eeg-only"], m["face-only"])
        out.append(("complementary", "AIMSTF minus the best unimodal model >= 0.15", gap, gap >= 0.15))
    if "eeg" in means:
        v = means["eeg"]["face-only"]
        out.append(("eeg", "face-only within 0.10 of chance (0.5)", v, abs(v - 0.5) <= 0.10))
    return out


def run(out: Path, only=None, trials=40, seconds=20, epochs=20, patience=20, strength=1.5, jobs=1, progress=True) -> dict:
    "Run the scenarios; return {scenario: {model: mean test accuracy}} and write OUT/learning.md."
    cfg = TrainConfig(epochs=epochs, patience=patience, batch_size=32, lr=1e-3, schedule="cosine", eeg_augment="spectral", seed=0)
    means, rows, t_all = {}, [], time.perf_counter()
    for sc, models in SCENARIOS.items():
        if only and sc not in only:
            continue
        t0 = time.perf_counter()
        df = synthetic_cv(out / sc, signal=sc, models=models, trials=trials, seconds=seconds, strength=strength,
                          train=cfg, jobs=jobs, progress=progress)
        means[sc] = {}
        for m in models:
            d = df[df.model == m].sort_values("fold")
            means[sc][m] = float(d["test_accuracy"].mean())
            rows.append(f"| {sc} | {m} | {d['test_accuracy'].mean():.3f} ± {d['test_accuracy'].std(ddof=0):.3f} | "
                        f"{d['test_macro_f1'].mean():.3f} | {d['test_accuracy_best_over_epochs_OPTIMISTIC'].mean():.3f} | "
                        f"{d['test_accuracy'].round(3).tolist()} |")
        print(f"[{sc}] {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    lines = [f"Synthetic DEAP, 1 subject x {trials} trials x {seconds} s, EEG cue strength {strength}, valence, "
             f"kfold-trial (5 folds), Adam lr 1e-3 cosine, batch 32, {epochs} epochs (patience {patience}), eeg_augment=spectral; "
             f"torch {torch.__version__}, {torch.get_num_threads()} threads, {time.perf_counter() - t_all:.0f} s", "",
             "| signal | model | test accuracy (mean ± std over folds) | macro-F1 | optimistic best-over-epochs | per fold |",
             "|---|---|---|---|---|---|", *rows, "",
             "| check | value | passed |", "|---|---|---|"]
    res = checks(means)
    lines += [f"| {sc}: {d} | {v:.3f} | {'yes' if ok else 'NO'} |" for sc, d, v, ok in res]
    text = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "learning.md").write_text(text)
    (out / "learning.json").write_text(json.dumps(dict(means=means, checks=[list(c) for c in res]), indent=1, default=str))
    print(text)
    return dict(means=means, checks=res)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--only", default=None, help="comma-separated subset of both,complementary,eeg")
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
