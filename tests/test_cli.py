"""The `aimstf` console script, end to end in a subprocess, as a user runs it."""
import subprocess

import aimstf_kit

from conftest import aimstf_cmd


def run(*args, cwd=None):
    return subprocess.run(aimstf_cmd() + [str(a) for a in args], capture_output=True, text=True, cwd=cwd)


def test_version_and_help():
    r = run("--version")
    assert r.returncode == 0 and aimstf_kit.__version__ in r.stdout
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("synth", "info", "demo"):
        assert cmd in r.stdout


def test_synth_then_info(tmp_path):
    r = run("synth", "mahnob", tmp_path / "m", "--subjects", 1, "--trials", 2, "--seconds", 2,
            "--prestim-seconds", 3, "--no-video", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "MAHNOB synthetic tree" in r.stdout and "2 bdf" in r.stdout and "0 avi" in r.stdout
    r = run("info", "mahnob", tmp_path / "m", "--quiet")
    assert r.returncode == 0, r.stderr
    # the default tree is realistic: one of the two sessions has no ratings (listed in synth_summary.json), and info says so
    assert "1 subjects, 1 trials, 0 videos" in r.stdout and "not a rated emotion session" in r.stdout
    import json
    kinds = [i["kind"] for i in json.loads((tmp_path / "m" / "synth_summary.json").read_text())["irregularities"]]
    assert "no_ratings" in kinds


def test_bad_input_is_one_clear_line(tmp_path):
    r = run("info", "deap", tmp_path / "missing", "--quiet")
    assert r.returncode == 2
    assert r.stderr.strip().startswith("aimstf: error:") and "data_preprocessed_python: not found" in r.stderr
    assert "Traceback" not in r.stderr
    (tmp_path / "d" / "data_preprocessed_python").mkdir(parents=True)
    (tmp_path / "d" / "data_preprocessed_python" / "s01.dat").write_bytes(b"junk")
    r = run("info", "deap", tmp_path / "d", "--quiet")
    assert r.returncode == 2 and "participant_ratings.csv not found" in r.stderr
    r = run("synth", "deap", tmp_path / "x", "--signal", "audio")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_demo_runs(tmp_path):
    r = run("demo", "--out", tmp_path / "demo", "--subjects", 1, "--trials", 6, "--seconds", 2, "--epochs", 1,
            "--models", "eeg-only,face-only", "--jobs", 1, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "Cache(deap, 1 subjects, 12 samples (12 with faces)" in r.stdout
    assert "signal 'complementary'" in r.stdout
    assert "| eeg-only | eeg | " in r.stdout and "| face-only | face | " in r.stdout  # the table with ceilings
    assert "- [" in r.stdout and "its ceiling" in r.stdout  # the claims, checked
    assert (tmp_path / "demo" / "demo.md").read_text() in r.stdout
    assert "Protocol: kfold-trial" in (tmp_path / "demo" / "run" / "table.md").read_text()
    for f in ("sample.png", "protocols.png", "results.png", "learning_curve.png"):
        assert (tmp_path / "demo" / f).stat().st_size > 10_000, f
    assert len((tmp_path / "demo" / "run" / "results.csv").read_text().splitlines()) == 1 + 2 * 3  # models x folds


def test_prepare_command(tmp_path):
    assert run("synth", "deap", tmp_path / "d", "--subjects", 2, "--trials", 2, "--seconds", 2, "--clean",
               "--quiet").returncode == 0
    r = run("prepare", "deap", tmp_path / "d", tmp_path / "cache", "--subjects", "1-2", "--workers", 2, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "2 subjects, 8 samples (8 with faces)" in r.stdout
    r = run("prepare", "deap", tmp_path / "d", tmp_path / "cache", "--subjects", "3", "--quiet")
    assert r.returncode == 2 and "subject(s) [3]" in r.stderr


def test_prepare_eeg_steps_from_the_command_line(tmp_path):
    import json
    assert run("synth", "mahnob", tmp_path / "m", "--subjects", 1, "--trials", 1, "--seconds", 2, "--no-video",
               "--quiet").returncode == 0
    r = run("prepare", "mahnob", tmp_path / "m", tmp_path / "cache", "--no-faces", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "'reference': 'average', 'l_freq': 4.0, 'h_freq': 45.0, 'notch': 50.0" in r.stdout  # MAHNOB's defaults
    r = run("prepare", "mahnob", tmp_path / "m", tmp_path / "cache", "--no-faces", "--notch", "60", "--l-freq", "none",
            "--quiet")
    assert r.returncode == 0, r.stderr
    caches = sorted(p for p in (tmp_path / "cache").iterdir() if p.is_dir())
    assert len(caches) == 2  # another key
    steps = [json.loads((c / "manifest.json").read_text())["eeg_steps"] for c in caches]
    assert {"reference": "average", "l_freq": None, "h_freq": 45.0, "notch": 60.0} in [
        {k: s[k] for k in ("reference", "l_freq", "h_freq", "notch")} for s in steps]
    r = run("prepare", "mahnob", tmp_path / "m", tmp_path / "cache", "--l-freq", "low", "--quiet")
    assert r.returncode != 0 and "a frequency must be a number of Hz" in r.stderr
