"""The CI-sized version of `benchmarks/bench_fullsize.py` (the full-size dry run takes about an hour): the same
script, stages and report on a 3-participant tree, with the same checks of what the report must say."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_fullsize_benchmark_quick(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_fullsize.py"), "--scratch", str(tmp_path / "s"),
                        "--quick", "--results", str(tmp_path / "r")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    state = json.loads((tmp_path / "r" / "fullsize_quick.json").read_text())
    for k in ("synth", "prepare", "cv"):
        assert state[k]["seconds"] > 0 and state[k]["peak_rss_mib"] > 0
    # participant 3 has no video: stored without faces, and the bimodal models skip it (2 folds each)
    subs = state["prepare"]["subjects"]
    assert subs["3"]["face_samples"] == 0 and subs["1"]["face_samples"] > 0
    assert not (Path(state["prepare"]["cache"]) / "s003" / "faces.npy").exists()
    skipped = {s["model"] for s in state["cv"]["skipped"]}
    assert skipped == {"aimstf", "aimstf-reference", "face-only", "deepvanet"}
    fits = {(f["model"], f["split"]) for f in state["cv"]["fits"]}
    assert ("eeg-only", "kfold-trial s03 f1") in fits and ("aimstf", "kfold-trial s01 f1") in fits
    ex = state["extrapolated"]
    assert ex["grid_total_seconds"] > 0 and set(ex["grid_seconds"]["aimstf"]) == {"kfold-trial", "cross-trial", "kfold-segment", "loso"}
    md = (tmp_path / "r" / "fullsize_quick.md").read_text()
    assert "Extrapolated, this machine" in md and "| prepare |" in md
    # resumable: a second run reuses every stage
    r2 = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_fullsize.py"), "--scratch", str(tmp_path / "s"),
                         "--quick", "--results", str(tmp_path / "r")], capture_output=True, text=True)
    assert r2.returncode == 0 and r2.stdout.count("reused") == 3
