"""Protocols and models registered at run time are first-class: `run_cv` cross-validates a toy model under
a toy protocol, in-process and in worker processes, and the run folder saves the toy splits it used."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from aimstf_kit.core import PrepareConfig
from aimstf_kit.experiments import run_cv
from aimstf_kit.losses import ClassificationLoss
from aimstf_kit.models.baselines import ModelOutput
from aimstf_kit.models.registry import MODELS, model_spec, register_model
from aimstf_kit.prepare import prepare
from aimstf_kit.runs import Run
from aimstf_kit.splits import PROTOCOLS, Split, check_no_leakage, register_protocol
from aimstf_kit.synth import SynthConfig, synth_deap
from aimstf_kit.train import TrainConfig


class MeanPower(nn.Module):
    "A toy EEG model: log power per electrode, then a linear layer."
    modality = "eeg"

    def __init__(self, num_classes: int = 2):
        super().__init__()
        self.head = nn.Linear(32, num_classes)

    def forward(self, face, eeg):
        z = torch.log(eeg.pow(2).mean(-1) + 1e-3)
        return ModelOutput(self.head(z), z)

    def default_loss(self):
        return ClassificationLoss()


def odd_even(subject, trial, n_folds=5, val_fraction=0.2, seed=0):
    "Per subject: odd trials train (the first one validates), even trials test."
    for s in np.unique(subject):
        own = subject == s
        odd = np.unique(trial[own & (trial % 2 == 1)])
        yield Split("odd-even", 0, int(s), np.flatnonzero(own & np.isin(trial, odd[1:])),
                    np.flatnonzero(own & (trial == odd[0])), np.flatnonzero(own & (trial % 2 == 0)))


@pytest.fixture(scope="module")
def toys():
    register_model("mean-power", MeanPower, modality="eeg", description="toy")
    register_protocol("odd-even", odd_even)
    yield
    del MODELS["mean-power"], PROTOCOLS["odd-even"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    synth_deap(root / "DEAP", SynthConfig(subjects=2, trials=6, seconds=2, video=False, signal="eeg", seed=3), progress=False)
    return prepare("deap", root / "DEAP", root / "cache", PrepareConfig(faces=False), progress=False)


@pytest.mark.parametrize("jobs", [1, 2])
def test_run_cv_with_a_toy_model_and_protocol(toys, cache, tmp_path, jobs):
    assert model_spec("mean-power").modality == "eeg"
    cfg = TrainConfig(model="mean-power", epochs=2, batch_size=8, lr=1e-2)
    df = run_cv(cache, tmp_path / "run", "odd-even", models=["mean-power", "eeg-only"], targets=["valence"], train=cfg,
                jobs=jobs, progress=False, model_kwargs={"eeg-only": dict(n_levels=1)})
    assert sorted(df.model.unique()) == ["eeg-only", "mean-power"]
    assert len(df) == 2 * 2 and set(df.protocol) == {"odd-even"} and not df.leaky.any()
    run = Run(tmp_path / "run")
    assert [s.name for s in run.splits] == ["odd-even s01 f0", "odd-even s02 f0"]
    c = run.open_cache()
    for s in run.splits:
        check_no_leakage(s, c.subject, c.trial)
        assert set(c.trial[s.test] % 2) == {0} and set(c.trial[s.train] % 2) == {1}
    m = run.load_model("mean-power", "valence", run.splits[0].name)
    assert isinstance(m, MeanPower) and not m.training
