"""A full-size dry run: a DEAP-size tree through preparation and cross-validation, timed per stage, with
peak memory, and extrapolated to the full DEAP tree and the paper's experiment grid on this machine.

    python benchmarks/bench_fullsize.py --scratch /tmp/fullsize         # about 1-2 hours on 2 cores, ~8 GB disk
    python benchmarks/bench_fullsize.py --scratch /tmp/fs --quick --results /tmp/fs  # 3 x 4 trials x 6 s, 2 folds (minutes)

Resumable: run it again with the same --scratch and finished stages are reused (the tree is not written
again, `prepare` resumes subject by subject, `aimstf cv --resume` skips finished folds); the stage timings
of a resumed stage are those of the run that finished it.

1. synth: 32 participants x 40 trials x 63 s of EEG (DEAP's 3-s baseline + 60-s stimulus), face video
   (full length, 50 fps, 720x576) for participants 1 and 2 only; `realistic` off (the tree is the size test,
   not the irregularity test).
2. prepare (faces on, the default): seconds per participant from the cache manifest, peak RSS of the process.
3. cv: `aimstf cv` of every registered model, 1 epoch, kfold-trial, valence, on participant 1 (video) and
   participant 3 (no video: the bimodal models skip it), in one process; seconds per fit from result.json.
4. Extrapolation, linear: preparation per participant (EEG) and per second of video (faces); training per
   training sample and epoch of each model; to the full DEAP tree (32 participants, 22 with video) and the
   grid of 2 targets x 4 protocols x every model with the presets' epochs (no early stopping assumed).

Writes benchmarks/results/fullsize.json and fullsize.md (or fullsize_quick.*).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
N_FULL, N_VIDEO_FULL, TRIALS_FULL, STIM_S = 32, 22, 40, 60  # the real DEAP tree


def machine() -> str:
    "CPU model and the number of cores this process may use."
    model = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                  if l.startswith("model name")), platform.processor())
    return f"{model}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}"


def in_subprocess(code: str) -> dict:
    "Run `code` in a fresh interpreter; it must end by printing a JSON dict. Adds the process's peak RSS (VmHWM)."
    tail = ("\nimport re as _re, json as _json; _h = _re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read());"
            "print('@@' + _json.dumps(dict(_out, peak_rss_mib=int(_h.group(1)) / 1024)))")
    r = subprocess.run([sys.executable, "-c", code + tail], capture_output=True, text=True,
                       env={**os.environ, "MPLBACKEND": "Agg"})
    if r.returncode:
        raise SystemExit(f"stage failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return json.loads(next(l for l in r.stdout.splitlines() if l.startswith("@@"))[2:])


def stage(state: dict, path: Path, name: str, code: str) -> dict:
    "Run a stage unless `state` already has it (resumed), record it and save `state`."
    if name not in state:
        t0 = time.perf_counter()
        out = in_subprocess(code)
        state[name] = dict(out, seconds=round(time.perf_counter() - t0, 1))
        path.write_text(json.dumps(state, indent=1))
        print(f"{name}: {state[name]['seconds']:.0f} s, peak RSS {state[name]['peak_rss_mib']:.0f} MiB", flush=True)
    else:
        print(f"{name}: reused ({state[name]['seconds']:.0f} s when it ran)", flush=True)
    return state[name]


def synth_code(root: Path, a) -> str:
    return (f"from aimstf_kit.synth import SynthConfig, synth_deap\n"
            f"s = synth_deap({str(root)!r}, SynthConfig(subjects={a.subjects}, trials={a.trials}, seconds={a.seconds}, "
            f"video_subjects=(1, 2), seed=0), progress=False)\n"
            f"_out = dict(files={{k: len(v) for k, v in s.files.items()}})")


def prepare_code(root: Path, cache: Path) -> str:
    return (f"import json\nfrom pathlib import Path\nfrom aimstf_kit.prepare import prepare\nfrom aimstf_kit.core import PrepareConfig\n"
            f"c = prepare('deap', {str(root)!r}, {str(cache)!r}, PrepareConfig(), progress=False)\n"
            "m = json.loads((Path(c) / 'manifest.json').read_text())\n"
            "size = sum(p.stat().st_size for p in Path(c).rglob('*') if p.is_file())\n"
            "_out = dict(cache=str(c), bytes=size, subjects={s: dict(seconds=e['seconds'], n=e['n'], "
            "face_samples=e['face_samples']) for s, e in m['subjects'].items()})")


def cv_code(cache: str, run: Path, models: list, a) -> str:
    args = ["cv", cache, "--out", str(run), "--model", ",".join(models), "--target", "valence", "--epochs", "1",
            "--subjects", "1,3", "--folds", str(a.folds), "--quiet", "--resume"]
    return (f"from aimstf_kit.cli import main\nimport json\nfrom pathlib import Path\nmain({args!r})\n"
            f"fits = [json.loads(p.read_text()) for p in sorted(Path({str(run)!r}).glob('folds/*/*/*/result.json'))]\n"
            "_out = dict(fits=[{k: f[k] for k in ('model', 'split', 'n_train', 'n_val', 'n_test', 'epochs_run', 'seconds')} "
            "for f in fits], skipped=json.loads((Path(" + repr(str(run)) + ") / 'summary.json').read_text())['skipped'])")


def per_participant(prep: dict, a) -> dict:
    "Preparation seconds per participant without video, and per second of face video."
    subs = prep["subjects"]
    eeg = [v["seconds"] for v in subs.values() if v["face_samples"] == 0]
    vid = [v["seconds"] for v in subs.values() if v["face_samples"] > 0]
    eeg_s = sum(eeg) / len(eeg)
    face_s = (sum(vid) / len(vid) - eeg_s) / (a.trials * a.seconds) if vid else float("nan")
    return dict(eeg_seconds_per_participant=eeg_s, face_seconds_per_video_second=face_s)


def train_costs(cv: dict) -> dict:
    "Per model: seconds of a fit per training sample and epoch (validation and test scoring included)."
    out = {}
    for f in cv["fits"]:
        out.setdefault(f["model"], []).append(f["seconds"] / (f["n_train"] * f["epochs_run"]))
    return {m: sum(v) / len(v) for m, v in out.items()}


def grid_seconds(costs: dict, modality: dict) -> dict:
    """Seconds of the full DEAP grid per protocol and model (2 targets, presets' epochs: 50 per subject, 100 pooled),
    bimodal and face models on the 22 participants with video, EEG-only models on all 32."""
    per = TRIALS_FULL * STIM_S  # samples per participant
    out = {}
    for m, c in costs.items():
        p = N_VIDEO_FULL if modality[m] != "eeg" else N_FULL
        fits = {"kfold-trial": (p * 5, per * 0.8 * 0.8, 50), "cross-trial": (p, per / 2 * 0.8, 50),
                "kfold-segment": (5, p * per * 0.8 * 0.8, 100), "loso": (p, (p - 1) * per * 0.8, 100)}
        out[m] = {k: 2 * n * n_train * ep * c for k, (n, n_train, ep) in fits.items()}
    return out


def report(state: dict, a) -> str:
    from aimstf_kit.models.registry import MODELS
    prep, cv = state["prepare"], state["cv"]
    pp = per_participant(prep, a)
    costs = train_costs(cv)
    grid = grid_seconds(costs, {m: MODELS[m].modality for m in costs})
    full_prep = N_FULL * pp["eeg_seconds_per_participant"] + \
        N_VIDEO_FULL * TRIALS_FULL * STIM_S * pp["face_seconds_per_video_second"]
    total = sum(sum(v.values()) for v in grid.values())
    state["extrapolated"] = dict(pp, full_deap_prepare_seconds=full_prep, train_seconds_per_sample_epoch=costs,
                                 grid_seconds=grid, grid_total_seconds=total)
    h = lambda s: f"{s / 3600:,.1f} h"
    lines = [f"# Full-size dry run ({'quick' if a.quick else 'DEAP size'})", "",
             f"Machine: {machine()}; command: `python benchmarks/bench_fullsize.py{' --quick' if a.quick else ''}`", "",
             f"Tree: {a.subjects} participants x {a.trials} trials x {a.seconds + 3} s of EEG, video for participants 1-2.", "",
             "| stage | seconds | peak RSS (MiB) |", "|---|---|---|"]
    lines += [f"| {k} | {state[k]['seconds']:.0f} | {state[k]['peak_rss_mib']:.0f} |" for k in ("synth", "prepare", "cv")]
    lines += ["", f"Cache: {prep['bytes'] / 2**20:,.0f} MiB. Preparation: {pp['eeg_seconds_per_participant']:.2f} s per "
              f"participant without video, {pp['face_seconds_per_video_second'] * 1000:.1f} ms per second of face video.",
              f"Cross-validation (1 epoch, kfold-trial, {a.folds} folds, participants 1 and 3): {len(cv['fits'])} fits, "
              f"{len(cv['skipped'])} skipped (bimodal models on the participant without video).", "",
              "| model | s per training sample-epoch | kfold-trial | cross-trial | kfold-segment | loso |", "|---|---|---|---|---|---|"]
    lines += [f"| {m} | {c * 1000:.2f} ms | " + " | ".join(h(grid[m][p]) for p in ("kfold-trial", "cross-trial", "kfold-segment", "loso"))
              + " |" for m, c in costs.items()]
    lines += ["", f"Extrapolated, this machine: preparing the full DEAP tree (32 participants, 22 with video) "
              f"{h(full_prep)}; the full grid (2 targets x 4 protocols x {len(costs)} models, presets' epochs, no early "
              f"stopping) {h(total)} ({total / 86400:,.0f} days) on one process."]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scratch", type=Path, required=True, help="where the tree, cache and run go (resumable)")
    ap.add_argument("--quick", action="store_true", help="3 participants x 4 trials x 6 s, 2 folds: checks the script")
    ap.add_argument("--results", type=Path, default=RESULTS, help="where the report goes (default benchmarks/results)")
    a = ap.parse_args()
    a.subjects, a.trials, a.seconds, a.folds = (3, 4, 6, 2) if a.quick else (N_FULL, TRIALS_FULL, STIM_S, 5)
    a.scratch.mkdir(parents=True, exist_ok=True)
    path = a.scratch / "state.json"
    state = json.loads(path.read_text()) if path.exists() else {}
    from aimstf_kit.models.registry import MODELS
    root, cache, run = a.scratch / "DEAP", a.scratch / "cache", a.scratch / "run"
    stage(state, path, "synth", synth_code(root, a))
    stage(state, path, "prepare", prepare_code(root, cache))
    stage(state, path, "cv", cv_code(state["prepare"]["cache"], run, list(MODELS), a))
    md = report(state, a)
    name = "fullsize_quick" if a.quick else "fullsize"
    a.results.mkdir(parents=True, exist_ok=True)
    (a.results / f"{name}.json").write_text(json.dumps(dict(state, machine=machine()), indent=1))
    (a.results / f"{name}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
