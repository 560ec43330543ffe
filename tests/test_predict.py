"""`aimstf predict`: a tiny run's fold models, applied to the samples each held out, reproduce every fold's recorded
test accuracy exactly; a DEAP folder is prepared with the run's parameters; data prepared otherwise, a fold the run
does not have and a run without checkpoints are refused with one clear line."""
import contextlib
import io
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

from aimstf_kit.cli import main
from aimstf_kit.core import PrepareConfig
from aimstf_kit.experiments import run_cv
from aimstf_kit.predict import trials_path
from aimstf_kit.prepare import prepare
from aimstf_kit.runs import Run
from aimstf_kit.synth import SynthConfig, synth_deap
from aimstf_kit.train import TrainConfig


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    "Two synthetic DEAP subjects without video, 6 trials x 2 s, eeg-only, kfold-trial with 3 folds, one epoch."
    root = tmp_path_factory.mktemp("predict")
    synth_deap(root / "DEAP", SynthConfig(subjects=2, trials=6, seconds=2, video=False, signal="eeg", seed=3), progress=False)
    cache = prepare("deap", root / "DEAP", root / "cache", PrepareConfig(faces=False), progress=False)
    with warnings.catch_warnings():  # tiny data: one-class validation sets are warned about
        warnings.simplefilter("ignore")
        run_cv(cache, root / "run", models=["eeg-only"], n_folds=3, device="cpu", progress=False,
               train=TrainConfig(model="eeg-only", epochs=1, batch_size=8, seed=1))
    return root, cache


def predict(*args):
    "`aimstf predict ...` in this process: (exit status, stdout, stderr)."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["predict", *map(str, args), "--device", "cpu", "--quiet"])
    return rc, out.getvalue(), err.getvalue()


def test_each_fold_reproduces_its_test_accuracy_exactly(setup, tmp_path):
    root, cache = setup
    run = Run(root / "run")
    results = pd.read_csv(root / "run" / "results.csv")
    assert len(results) == 2 * 3
    for k in range(3):  # each fold's models (one per subject) on their own held-out samples
        f = tmp_path / f"fold{k}.csv"
        rc, out, err = predict(root / "run", cache, "--out", f, "--fold", k, "--held-out")
        assert rc == 0, err
        df = pd.read_csv(f)
        assert set(df["fold"]) == {k} and df["split"].nunique() == 2
        for name, g in df.groupby("split"):
            rec = run.result("eeg-only", "valence", name)
            sp = run.task_split("eeg-only", "valence", name)
            assert sorted(g["index"]) == sorted(sp.test.tolist())
            acc = float((g["predicted"] == g["label"]).sum() / len(g))
            assert acc == rec["test_accuracy"], (name, acc, rec["test_accuracy"])
            assert (g["predicted"] == g[["prob_0", "prob_1"]].to_numpy().argmax(1)).all()
            assert np.allclose(g["prob_0"] + g["prob_1"], 1, atol=1e-6)
        trials = pd.read_csv(trials_path(f))
        assert len(trials) == df.groupby(["split", "subject", "trial"]).ngroups
        assert (trials["n_seconds"] == 2).all() and trials["label"].notna().all()
        assert "accuracy on the labelled samples" in out


def test_raw_folder_is_prepared_with_the_runs_parameters(setup, tmp_path):
    root, cache = setup
    new = tmp_path / "NEW"
    synth_deap(new, SynthConfig(subjects=1, trials=3, seconds=2, video=False, signal="eeg", seed=9), progress=False)
    rc, out, err = predict(root / "run", new, "--out", tmp_path / "p.csv")
    assert rc == 0, err
    df = pd.read_csv(tmp_path / "p.csv")
    assert len(df) == 6 * 3 * 2  # every fold model (2 subjects x 3 folds) x 3 trials x 2 s
    assert (tmp_path / "p_cache").is_dir() and cache.name in {p.name for p in (tmp_path / "p_cache").iterdir()}
    t = pd.read_csv(tmp_path / "p_trials.csv")
    assert len(t) == 6 * 3 and t["agreement"].between(0.5, 1).all()


def test_other_preparation_is_refused(setup, tmp_path):
    root, _ = setup
    other = prepare("deap", root / "DEAP", tmp_path / "other", PrepareConfig(faces=False, baseline="none"), progress=False)
    rc, out, err = predict(root / "run", other, "--out", tmp_path / "x.csv")
    assert rc == 2
    assert err.startswith("aimstf: error:") and "prepared with other parameters than the run" in err
    assert "baseline: run 'mean-window', data 'none'" in err and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()


def test_bad_requests_are_refused(setup, tmp_path):
    root, cache = setup
    rc, _, err = predict(root / "run", cache, "--out", tmp_path / "x.csv", "--fold", 5)
    assert rc == 2 and "no fold 5; the run has folds [0, 1, 2]" in err
    rc, _, err = predict(tmp_path / "norun", cache, "--out", tmp_path / "x.csv")
    assert rc == 2 and "norun: run folder not found" in err
    bare = tmp_path / "bare"
    shutil.copytree(root / "run", bare)
    for c in bare.glob("folds/*/*/*/checkpoint.pt"):
        c.unlink()
    rc, _, err = predict(bare, cache, "--out", tmp_path / "x.csv")
    assert rc == 2 and "no trained fold" in err
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.slow
def test_bimodal_model_reproduces_its_test_accuracy(tmp_path):
    "AIMSTF (EEG + faces) on a subject with one trial without video: held-out predictions give each fold's test accuracy."
    synth_deap(tmp_path / "D", SynthConfig(subjects=1, trials=6, seconds=2, video_subjects=(1,), missing_videos=1, seed=4),
               progress=False)
    cache = prepare("deap", tmp_path / "D", tmp_path / "c", PrepareConfig(), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_cv(cache, tmp_path / "run", models=["aimstf"], n_folds=2, device="cpu", progress=False,
               train=TrainConfig(epochs=1, batch_size=8))
    rc, out, err = predict(tmp_path / "run", cache, "--out", tmp_path / "p.csv", "--held-out")
    assert rc == 0, err
    run, df = Run(tmp_path / "run"), pd.read_csv(tmp_path / "p.csv")
    for name, g in df.groupby("split"):
        assert float((g["predicted"] == g["label"]).sum() / len(g)) == run.result("aimstf", "valence", name)["test_accuracy"]
    # every sample, not only the held-out ones: those without a face are left out and counted
    rc, out, err = predict(tmp_path / "run", cache, "--out", tmp_path / "all.csv")
    assert rc == 0, err
    assert "2 sample(s) without a face left out" in out and "the run's own cache" in out
