"""A hand-made EEG baseline on any finished run's cache and splits: per-sample log band power (theta, alpha, beta,
gamma x 32 electrodes) and a shrinkage LDA (numpy), fitted on each fold's training + validation samples and scored
on its test samples, the splits the run saved. What a linear band-power classifier reaches on the same data.

    python benchmarks/hand_lda.py RUN_FOLDER          # e.g. aimstf_demo/run
"""
import sys

import numpy as np

from aimstf_kit.runs import Run

BANDS = [(4, 8), (8, 13), (13, 30), (30, 45)]


def main(folder) -> float:
    run = Run(folder)
    cache = run.open_cache()
    x = np.asarray(cache.eeg, dtype=np.float64)  # (N, 32, 128)
    power = np.abs(np.fft.rfft(x, axis=-1)) ** 2
    f = np.fft.rfftfreq(x.shape[-1], 1 / 128)
    feat = np.concatenate([np.log(power[..., (f >= lo) & (f < hi)].mean(-1) + 1e-12) for lo, hi in BANDS], 1)
    y = cache.labels("valence", 5.0, ">=")
    accs = []
    for sp in run.splits_for("valence"):
        tr, te = np.concatenate([sp.train, sp.val]), sp.test
        mu, sd = feat[tr].mean(0), feat[tr].std(0) + 1e-9
        z = (feat - mu) / sd
        m0, m1 = z[tr][y[tr] == 0].mean(0), z[tr][y[tr] == 1].mean(0)
        c = np.cov(np.concatenate([z[tr][y[tr] == 0] - m0, z[tr][y[tr] == 1] - m1]).T)
        c = 0.5 * c + 0.5 * np.eye(len(c)) * np.trace(c) / len(c)  # shrinkage towards a scaled identity
        w = np.linalg.solve(c, m1 - m0)
        accs.append(float(((z[te] @ w - w @ (m0 + m1) / 2 > 0).astype(int) == y[te]).mean()))
    print("hand log band power + shrinkage LDA, test accuracy per fold", np.round(accs, 3),
          "mean", round(float(np.mean(accs)), 3))
    return float(np.mean(accs))


if __name__ == "__main__":
    main(sys.argv[1])
