"""Cross-validation end to end through `aimstf cv`: kill -9 then --resume gives the same results file,
leaky protocols are flagged in every output, and bad requests are refused before any training."""
import inspect
import json
import os
import signal
import subprocess
import time

import pandas as pd
import pytest

from aimstf_kit.core import PrepareConfig
from aimstf_kit.prepare import prepare
from aimstf_kit.synth import SynthConfig, synth_deap

from conftest import aimstf_cmd

CV = ["--model", "eeg-only", "--target", "valence", "--folds", "3", "--batch-size", "8", "--lr", "0.001", "--seed", "4", "--quiet"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("cv")
    synth_deap(root / "DEAP", SynthConfig(subjects=2, trials=6, seconds=2, video=False, signal="eeg", seed=2), progress=False)
    return prepare("deap", root / "DEAP", root / "cache", PrepareConfig(faces=False), progress=False)


def cv(*args, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(aimstf_cmd() + ["cv", *map(str, args)], capture_output=True, text=True, env=env, **kw)


def test_kill_then_resume_gives_identical_results(cache, tmp_path):
    ref = cv(cache, "--out", tmp_path / "ref", "--epochs", "5", *CV)
    assert ref.returncode == 0, ref.stderr
    expected = (tmp_path / "ref" / "results.csv").read_text()
    assert len(pd.read_csv(tmp_path / "ref" / "results.csv")) == 2 * 3
    # the same run, killed with SIGKILL while a later fold is half-trained
    out = tmp_path / "killed"
    p = subprocess.Popen(aimstf_cmd() + ["cv", str(cache), "--out", str(out), "--epochs", "5", *CV],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while time.time() < deadline:
        done = list(out.glob("folds/*/*/*/result.json"))
        ckpts = [c for c in out.glob("folds/*/*/*/checkpoint.pt") if not (c.parent / "result.json").exists()]
        if len(done) >= 2 and ckpts:
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not (out / "results.csv").exists(), "the run finished before it could be killed"
    assert len(list(out.glob("folds/*/*/*/result.json"))) < 6
    r = cv(cache, "--out", out, "--epochs", "5", "--resume", *CV)
    assert r.returncode == 0, r.stderr
    assert (out / "results.csv").read_text() == expected


def test_kfold_segment_is_flagged_everywhere(cache, tmp_path):
    r = cv(cache, "--out", tmp_path / "seg", "--protocol", "kfold-segment", "--epochs", "2", *CV)
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(tmp_path / "seg" / "results.csv")
    assert df["leaky"].all() and (df["protocol"] == "kfold-segment").all()
    summary = json.loads((tmp_path / "seg" / "summary.json").read_text())
    assert summary["leaky"] is True and "same trial" in summary["leakage_note"]
    table = (tmp_path / "seg" / "table.md").read_text()
    assert "†" in table and "inflated" in table and "†" in r.stdout


def test_bad_requests_are_refused_before_training(cache, tmp_path):
    def refused(*args, match):
        out = tmp_path / f"r{len(list(tmp_path.iterdir()))}"
        r = cv(cache, "--out", out, "--epochs", "1", *args)
        assert r.returncode == 2, r.stdout + r.stderr
        assert match in r.stderr, r.stderr
        assert not (out / "folds").exists()
    refused("--model", "resnet", match="unknown model(s) ['resnet']")
    refused("--model", "face-only", match="EEG-only cache")
    refused("--target", "joy", match="no rating ['joy']")
    refused("--subjects", "1,9", match="subject(s) [9] are not in this cache")
    r = cv(cache, "--out", tmp_path / "x", "--protocol", "holdout")
    assert r.returncode == 2 and "invalid choice" in r.stderr
    # a cache written by another kit version
    man = json.loads((cache / "manifest.json").read_text())
    old = dict(man, format=0, kit_version="0.0.1")
    (cache / "manifest.json").write_text(json.dumps(old))
    try:
        refused("--model", "eeg-only", match="cache format 0 (kit 0.0.1)")
    finally:
        (cache / "manifest.json").write_text(json.dumps(man))
    # resuming with another configuration
    ok = cv(cache, "--out", tmp_path / "run", "--epochs", "1", *CV)
    assert ok.returncode == 0, ok.stderr
    r = cv(cache, "--out", tmp_path / "run", "--epochs", "2", "--resume", *CV)
    assert r.returncode == 2 and "different configuration (train)" in r.stderr
    r = cv(cache, "--out", tmp_path / "run", "--epochs", "1", *CV)
    assert r.returncode == 2 and "already holds a run" in r.stderr


def test_training_options_are_recorded_and_part_of_the_configuration(cache, tmp_path):
    out = tmp_path / "opts"
    r = cv(cache, "--out", out, "--epochs", "2", "--eeg-augment", "spectral", "--schedule", "cosine", "--bf16", *CV)
    assert r.returncode == 0, r.stderr
    train = json.loads((out / "summary.json").read_text())["spec"]["train"]
    assert (train["eeg_augment"], train["schedule"], train["precision"]) == ("spectral", "cosine", "bf16")
    hist = json.loads(next(out.glob("folds/*/*/*/result.json")).read_text())["history"]
    assert len(hist) == 2 and all(h["train_loss"] == h["train_loss"] for h in hist)  # ran, no NaN
    r = cv(cache, "--out", out, "--epochs", "2", "--eeg-augment", "none", "--schedule", "cosine", "--bf16", "--resume", *CV)
    assert r.returncode == 2 and "different configuration (train)" in r.stderr
    r = cv(cache, "--out", tmp_path / "bad", "--eeg-augment", "mixup", *CV)
    assert r.returncode == 2 and "invalid choice" in r.stderr


@pytest.mark.slow
def test_compile_option_trains(cache):
    """`compile=True` wraps the model in torch.compile (needs a C++ compiler; minutes of warm-up on CPU)."""
    import torch
    from aimstf_kit.datasets import make_splits, open_cache
    from aimstf_kit.train import TrainConfig, fit
    c = open_cache(cache)
    split = next(make_splits("kfold-trial", c.subject, c.trial, n_folds=3))
    cfg = TrainConfig(model="eeg-only", epochs=1, batch_size=8, lr=1e-3, seed=0)
    plain = fit(c, split, cfg, progress=False, model_kwargs=dict(n_levels=2))
    comp = fit(c, split, cfg.replace(compile=True), progress=False, model_kwargs=dict(n_levels=2))
    assert abs(comp["history"][0]["train_loss"] - plain["history"][0]["train_loss"]) < 1e-3
    assert torch.compiler.is_compiling() is False


def test_seeds_repeat_the_run_and_the_table_counts_subject_seed_pairs(cache, tmp_path):
    out = tmp_path / "seeds"
    r = cv(cache, "--out", out, "--epochs", "2", "--seeds", "2", *CV)  # CV has --seed 4: seeds 4 and 5
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.glob("seed-*")) == ["seed-4", "seed-5"]
    df = pd.read_csv(out / "results.csv")
    assert df.groupby("seed").size().to_dict() == {4: 6, 5: 6}  # 2 subjects x 3 folds each
    for s in (4, 5):
        one = pd.read_csv(out / f"seed-{s}" / "results.csv")
        assert json.loads((out / f"seed-{s}" / "run.json").read_text())["spec"]["train"]["seed"] == s
        assert one.test_accuracy.tolist() == df[df.seed == s].sort_values(["subject", "fold"]).test_accuracy.tolist()
    assert "mean ± std across subject x seed pairs" in r.stdout
    assert "95 % confidence interval of the mean over subject x seed pairs" in (out / "table.md").read_text()
    assert json.loads((out / "summary.json").read_text())["aggregate"][0]["n_units"] == 4
    bad = cv(cache, "--out", tmp_path / "bad", "--epochs", "1", "--seeds", "0", *CV)
    assert bad.returncode != 0 and "--seeds must be at least 1" in bad.stderr


def test_hand_baseline_script_scores_a_run(cache, tmp_path):
    "benchmarks/hand_lda.py (README quotes it) reads a finished run's cache and saved splits."
    import sys
    from pathlib import Path
    out = tmp_path / "one"
    assert cv(cache, "--out", out, "--epochs", "1", *CV).returncode == 0
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "hand_lda.py"
    r = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "test accuracy per fold" in r.stdout and len(r.stdout.split("[")[1].split("]")[0].split()) == 3 * 2  # folds x subjects


def _load_script(path):
    "A benchmark script as a module (its `main` not run)."
    import importlib.util
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_demo_switches_script_compares_each_setting_and_resumes(tmp_path):
    """benchmarks/demo_switches.py (chapters 10, 14, 15 and README quote it), CI-sized: both settings of each
    comparison on every fold, the means, and a second run that finds everything done."""
    import sys
    from pathlib import Path
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "demo_switches.py"
    cmd = [sys.executable, str(script), "--out", str(tmp_path / "sw"), "--trials", "6", "--seconds", "2", "--epochs", "1",
           "--jobs", "2", "--only", "face-only:feature_norm,eeg-only:temporal,face-only:face_pretrain"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "sw" / "demo_switches.md").read_text()
    for first, second in (("| 'batch' |", "| None |"), ("| 'depthwise' |", "| 'full' |")):
        assert len([l for l in md.splitlines() if l.startswith((first, second))]) == 6, md
    assert "feature_norm='batch': mean test accuracy" in md and "temporal='full': mean test accuracy" in md
    assert "6 trials x 2 s" in md and "Not run (yet): aimstf:modality_dropout=0.0 (3 of 3 folds)" in md
    lines = (tmp_path / "sw" / "rows.jsonl").read_text().splitlines()
    assert len(lines) == 18  # 12 fits of the first two comparisons, 3 with face pretraining, 3 reused
    rows = [json.loads(l) for l in lines]
    fit0 = {r["fold"]: r for r in rows if r["comparison"] == "face-only:feature_norm" and r["value"] == "batch"}
    reused = [r for r in rows if r["comparison"] == "face-only:face_pretrain" and r["value"] == 0]
    assert [r["reused_from"] for r in reused] == ["face-only:feature_norm"] * 3  # the default fit, not trained twice
    assert all(r["test_accuracy"] == fit0[r["fold"]]["test_accuracy"] for r in reused)
    assert len([r for r in rows if r["comparison"] == "face-only:face_pretrain" and r["value"] == 5 and "reused_from" not in r]) == 3
    assert md.count("(the fit of face-only:feature_norm)") == 3 and "face_pretrain=5: mean test accuracy" in md
    mod = _load_script(script)  # each comparison's first value is the kit's default, the fit others reuse
    from aimstf_kit.models.registry import build_model
    from aimstf_kit.train import TrainConfig
    for name, (kit, other) in mod.COMPARISONS.items():
        model, switch = name.split(":")
        m = build_model(model)
        if hasattr(TrainConfig(), switch):
            default = getattr(TrainConfig(), switch)
        elif switch in getattr(m, "config", {}):  # AIMSTF: the variant's settings
            default = m.config[switch]
        else:
            default = inspect.signature(type(m).__init__).parameters[switch].default
        assert default == kit != other, (name, default)
    r = subprocess.run(cmd, capture_output=True, text=True)  # resumes: nothing left to fit
    assert r.returncode == 0 and r.stderr.count("test_accuracy") == 0, r.stderr
    assert (tmp_path / "sw" / "rows.jsonl").read_text().splitlines() == lines
    assert (tmp_path / "sw" / "demo_switches.md").read_text() == md
    bad = subprocess.run([*cmd[:-1], "aimstf:dropout"], capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown comparison" in bad.stderr


def test_cv_execution_options_are_recorded_and_do_not_change_results(cache, tmp_path):
    "--threads and --loader-workers reach every fold and summary.json; loader workers leave results.csv unchanged."
    a = cv(cache, "--out", tmp_path / "a", "--epochs", "2", "--threads", "1", *CV)
    b = cv(cache, "--out", tmp_path / "b", "--epochs", "2", "--threads", "1", "--loader-workers", "2", "--jobs", "2", *CV)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    assert (tmp_path / "a" / "results.csv").read_bytes() == (tmp_path / "b" / "results.csv").read_bytes()
    ex = json.loads((tmp_path / "b" / "summary.json").read_text())["execution"]
    assert (ex["executor"], ex["jobs"], ex["threads"], ex["loader_workers"], ex["retried"], ex["failed"]) == ("local", 2, 1, 2, [], [])
    bad = cv(cache, "--out", tmp_path / "c", "--executor", "slurm", *CV)
    assert bad.returncode != 0 and "invalid choice: 'slurm'" in bad.stderr
