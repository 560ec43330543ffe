"""Do the models learn? A CI-sized check on every run of the suite, and the full benchmark (slow).

    pytest tests/test_learning.py                 # the CI-sized check (4 min) and its negative control (2.5 min)
    pytest --runslow tests/test_learning.py -k full   # the full benchmark: hours on 2 CPU cores

The CI-sized check (`aimstf_kit.learning.quick_check`): labels in both modalities, `TrainConfig()` defaults,
kfold-trial; AIMSTF on 20 trials x 6 s (3 folds) >= 0.80, EEG-only on 40 trials x 10 s (3 folds) >= 0.75. The
negative control zeroes every EEG input the models see and requires the EEG-only check to fail: a check that
passes without the signal would not be a check.
"""
import pytest
import torch

from aimstf_kit.datasets import EmotionDataset
from aimstf_kit.learning import quick_check, run


def test_models_learn_quick(tmp_path):
    torch.set_num_threads(2)
    r = quick_check(tmp_path, jobs=2)
    print("quick check:", {m: round(v, 3) for m, v in r["means"].items()}, f"{r['seconds']:.0f} s")
    failed = [f"{d}: {v:.3f}" for _, d, v, ok in r["checks"] if not ok]
    assert not failed, failed


def test_quick_check_fails_without_the_eeg(tmp_path, monkeypatch):
    torch.set_num_threads(2)
    items = EmotionDataset.read

    def zero_eeg(self, idx):
        b = items(self, idx)
        if "eeg" in b:
            b["eeg"] = torch.zeros_like(b["eeg"])
        return b

    monkeypatch.setattr(EmotionDataset, "read", zero_eeg)
    r = quick_check(tmp_path, models=("eeg-only",))  # jobs=1: the patch reaches the training loop
    (_, desc, value, ok), = r["checks"]
    print(f"EEG zeroed: {desc}: {value:.3f}")
    assert not ok, f"{desc} passed with the EEG zeroed: {value:.3f}"
    assert abs(value - 0.5) <= 0.15, value


@pytest.mark.slow
def test_full_learning_benchmark(tmp_path):
    torch.set_num_threads(2)
    r = run(tmp_path, progress=False)
    assert not r["not_run"]
    failed = [f"{sc}: {d}: {v:.3f}" for sc, d, v, ok in r["checks"] if not ok]
    assert not failed, failed
