"""Cross-validation over a cache that mixes participants with and without face video (as real DEAP does),
label-stratified folds, the label rule on the command line, and one-output models scored right.

Data: a tiny synthetic DEAP tree (`realistic` off: the test states its own irregularity, participant 3
without video, and one missing trial video for participant 1), 3 participants x 8 trials x 2 s."""
import json
import os
import subprocess

import numpy as np
import pandas as pd
import pytest

from aimstf_kit.cache import open_cache
from aimstf_kit.core import PrepareConfig
from aimstf_kit.experiments import run_cv
from aimstf_kit.prepare import prepare
from aimstf_kit.runs import Run
from aimstf_kit.splits import single_class_sets
from aimstf_kit.synth import SynthConfig, synth_deap
from aimstf_kit.train import TrainConfig

from conftest import aimstf_cmd

TINY = TrainConfig(epochs=1, batch_size=8, lr=1e-3, patience=1, record_optimistic=False)
SMALL = {"eeg-only": dict(n_levels=2), "aimstf": dict(n_levels=2), "tsception": {}}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    synth_deap(root / "DEAP", SynthConfig(subjects=3, trials=8, seconds=2, video_subjects=(1, 2), missing_videos=1,
                                          seed=3), progress=False)
    return prepare("deap", root / "DEAP", root / "cache", PrepareConfig(), progress=False)


def test_cache_is_mixed(mixed):
    c = open_cache(mixed)
    per = {s: c.has_face[c.subject == s].mean() for s in c.subjects}
    assert per[3] == 0 and per[1] > 0 and per[2] > 0, per


def cv(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(aimstf_cmd() + ["cv", *map(str, args)], capture_output=True, text=True, env=env)


def test_cli_cv_finishes_on_a_participant_without_video(mixed, tmp_path):
    out = tmp_path / "run"
    r = cv(mixed, "--out", out, "--model", "aimstf,eeg-only", "--folds", "2", "--epochs", "1", "--batch-size", "8",
           "--quiet")
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out / "results.csv")
    eo, aim = df[df.model == "eeg-only"], df[df.model == "aimstf"]
    assert sorted(eo.subject.unique()) == [1, 2, 3]  # eeg-only rows for every participant
    assert sorted(aim.subject.unique()) == [1, 2]  # aimstf rows for those with faces
    assert set(eo[eo.subject == 3].basis) == {"eeg-only"} and set(eo[eo.subject < 3].basis) == {"common"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["same_samples"] is True
    skipped = summary["skipped"]
    assert {(s["model"], s["split"]) for s in skipped} == {("aimstf", f"kfold-trial s03 f{k}") for k in (0, 1)}
    assert all("none of its" in s["reason"] and "has a face" in s["reason"] for s in skipped)
    table = (out / "table.md").read_text()
    assert "Not in the table (basis eeg-only: 1 subject(s)" in table and "Skipped: 2 fit(s)" in table
    assert "every model scored on the same test samples" in table
    # excluded counts: participant 1 misses one trial video, so its eeg-only rows leave those samples out too
    assert (df.n_test + df.excluded_test > 0).all()
    s1 = df[(df.subject == 1)]
    assert s1.excluded_train.sum() + s1.excluded_val.sum() + s1.excluded_test.sum() > 0


def _task_tests(run):
    "Per (target, split name), the test indices each fitted model used."
    out = {}
    for t in run.tasks:
        if not t["skipped"]:
            out.setdefault((t["target"], t["name"]), {})[t["model"]] = run.task_split(t["model"], t["target"], t["name"]).test
    return out


def test_same_samples_every_model_on_the_same_test_samples(mixed, tmp_path):
    models = ["aimstf", "eeg-only", "tsception"]
    df = run_cv(mixed, tmp_path / "same", models=models, train=TINY, n_folds=2, progress=False, model_kwargs=SMALL)
    run = Run(tmp_path / "same")
    c = run.open_cache()
    compared = 0
    for (t, name), per in _task_tests(run).items():
        if len(per) == len(models):  # a split every model could use: identical test samples, all with faces
            first = per["aimstf"]
            for m, idx in per.items():
                np.testing.assert_array_equal(idx, first, err_msg=f"{m} {name}")
            assert c.has_face[first].all()
            compared += 1
    assert compared == 4  # 2 subjects with faces x 2 folds
    table_rows = df[df.basis == "common"]
    assert table_rows.groupby(["subject", "fold"]).n_test.nunique().eq(1).all()
    # without same-samples, EEG-only models keep the samples without faces
    own = run_cv(mixed, tmp_path / "own", models=models, train=TINY, n_folds=2, progress=False, model_kwargs=SMALL,
                 same_samples=False)
    assert set(own[own.subject < 3].basis) == {"own"}
    n = own[own.subject == 1].groupby("model").n_test.sum()
    assert n["eeg-only"] == n["tsception"] > n["aimstf"]


def test_folds_are_stratified_and_single_class_sets_reported(mixed, tmp_path):
    c = open_cache(mixed)
    lab = c.labels("valence")
    df = run_cv(mixed, tmp_path / "strat", models=["eeg-only"], train=TINY, n_folds=2, progress=False,
                model_kwargs=SMALL)
    run = Run(tmp_path / "strat")
    summary = json.loads((tmp_path / "strat" / "summary.json").read_text())
    reported = {(n["target"], n["split"]) for n in summary["single_class_sets"]}
    checked = 0
    for sp in run.splits_for("valence"):
        sets = [k for k in single_class_sets(sp, lab) if k != "train"]
        trials = np.unique(c.trial[c.subject == sp.subject])
        per_class = np.bincount([lab[(c.subject == sp.subject) & (c.trial == t)][0] for t in trials], minlength=2)
        if per_class.min() >= 4:  # 2 folds: >= 4 trials of each class put both classes in every test and val set
            assert not sets, (sp, per_class)
            checked += 1
        assert bool(sets) == (("valence", sp.name) in reported)
    assert checked >= 2 and len(df) == 3 * 2


def test_label_rule_from_the_command_line_is_recorded(mixed, tmp_path):
    out = tmp_path / "rule"
    r = cv(mixed, "--out", out, "--model", "eeg-only", "--folds", "2", "--epochs", "1", "--batch-size", "8",
           "--threshold", "6", "--rule", ">", "--subjects", "1", "--loss-beta", "0.2", "--cmd-span", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out / "results.csv")
    assert set(df.rule) == {"rating > 6"}
    spec = json.loads((out / "summary.json").read_text())["spec"]["train"]
    assert (spec["threshold"], spec["rule"]) == (6.0, ">")
    assert (spec["loss_beta"], spec["cmd_span"], spec["loss_alpha"]) == (0.2, 2.0, None)  # recorded (eeg-only ignores them)
    assert "labels: rating > 6" in (out / "table.md").read_text()
    c = open_cache(mixed, subjects=[1])
    sp = Run(out).splits_for("valence")[0]
    test = c.labels("valence", 6, ">")[sp.test]
    assert np.array_equal(test, (c.ratings[sp.test, 0] > 6).astype(test.dtype))


def test_one_output_baseline_is_scored_by_its_logit(mixed):
    # `train.evaluate` of a one-output baseline whose logits are all about +3: every prediction is class 1
    # (the argmax of one column, as before, predicted class 0 for every sample)
    import torch
    from aimstf_kit.datasets import EmotionDataset, make_loader
    from aimstf_kit.models.registry import build_model
    from aimstf_kit.train import evaluate
    c = open_cache(mixed, subjects=[1])
    m = build_model("eeg-only", n_levels=2, num_classes=1).eval()
    with torch.no_grad():
        m.classifier[-1].weight.zero_(); m.classifier[-1].bias.fill_(3.0)
    ds = EmotionDataset(c, np.arange(len(c)), modality="eeg", target="valence")
    res = evaluate(m, make_loader(ds, batch_size=16, shuffle=False), m.default_loss(), torch.device("cpu"))
    conf = np.asarray(res["confusion"])
    assert conf[:, 0].sum() == 0 and conf[:, 1].sum() == len(c), conf
