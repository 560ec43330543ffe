"""Does each model learn what the synthetic data plant? (slow: about 70 min on 2 CPU cores)

    pytest --runslow tests/test_learning.py

Runs `benchmarks/bench_learning.py` as the closing note of issue 5 reports it (kfold-trial, 1 subject x 40
trials, valence; 20-s trials for `complementary`, 10-s trials for `both` and `eeg`) and asserts
issue 5's targets: AIMSTF >= 90 % with labels in both modalities; AIMSTF >= 15 points above both
unimodal baselines when each trial's label is in one modality only; face-only near chance when the
labels are in the EEG only.
"""
import pytest


@pytest.mark.slow
def test_models_learn_the_planted_labels(tmp_path):
    import torch
    from aimstf_kit.learning import run
    torch.set_num_threads(2)
    checks = run(tmp_path / "a", only=["complementary"], progress=False)["checks"]
    checks += run(tmp_path / "b", only=["both", "eeg"], seconds=10, progress=False)["checks"]
    assert {sc for sc, *_ in checks} == {"both", "complementary", "eeg"}
    failed = [f"{sc}: {desc}: {v:.3f}" for sc, desc, v, ok in checks if not ok]
    assert not failed, failed
