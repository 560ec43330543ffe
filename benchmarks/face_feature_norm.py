"""Does the face-only model need the BatchNorm on its 128-d feature (`FaceOnly(feature_norm="batch")`)?

    python benchmarks/face_feature_norm.py --out /tmp/ffn --results benchmarks/results

Synthetic DEAP, 1 subject x 40 trials x 4 s, signal `complementary` (the demo's data), valence, kfold-trial
(3 folds), `TrainConfig(model="face-only")` defaults; each fold trained with and without the feature BatchNorm.
Writes RESULTS/face_feature_norm.md: test accuracy per fold, the training loss after the first and the last
epoch, and the ceiling of a face-only model on that data.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from aimstf_kit.cache import open_cache
from aimstf_kit.experiments import synthetic_cache
from aimstf_kit.splits import make_splits
from aimstf_kit.synth import SynthConfig, ceilings
from aimstf_kit.train import TrainConfig, fit


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--results", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=None, help="default: TrainConfig()'s")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    trials, seconds, folds = a.trials, a.seconds, 3
    cfg = TrainConfig(model="face-only") if a.epochs is None else TrainConfig(model="face-only", epochs=a.epochs)
    cache = open_cache(synthetic_cache(a.out, "complementary", 1, trials, seconds, 1.0, True, 0, 1, False))
    y = cache.labels("valence", 5.0, ">=")
    splits = list(make_splits("kfold-trial", cache.subject, cache.trial, n_folds=folds, labels=y))
    ceil = ceilings(SynthConfig(subjects=1, trials=trials, seconds=float(seconds), signal="complementary", seed=0))["face"]
    rows = []
    for norm in ("batch", None):
        for k, sp in enumerate(splits):
            t0 = time.perf_counter()
            r = fit(cache, sp, cfg, progress=False, model_kwargs=dict(feature_norm=norm))
            h = r["history"]
            rows.append((norm, k, r["test_accuracy"], h[0]["train_loss"], h[-1]["train_loss"], time.perf_counter() - t0))
            print(rows[-1], file=sys.stderr, flush=True)
    lines = [f"Face-only on synthetic DEAP, 1 subject x {trials} trials x {seconds} s, signal 'complementary', valence, "
             f"kfold-trial ({folds} folds), `TrainConfig(model=\"face-only\")`, {cfg.epochs} epochs; face-only ceiling {ceil:.3f}. "
             "Command: `python benchmarks/face_feature_norm.py --out DIR`.", "",
             "| feature_norm | fold | test accuracy | train loss, epoch 1 | train loss, last epoch | seconds |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {n} | {k} | {acc:.3f} | {l0:.3f} | {l1:.3f} | {s:.0f} |" for n, k, acc, l0, l1, s in rows]
    for n in ("batch", None):
        lines.append(f"\nfeature_norm={n}: mean test accuracy {np.mean([r[2] for r in rows if r[0] == n]):.3f}")
    text = "\n".join(lines) + "\n"
    res = a.results or a.out
    res.mkdir(parents=True, exist_ok=True)
    (res / "face_feature_norm.md").write_text(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
