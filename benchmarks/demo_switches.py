"""What each of the "paper" variant's learning switches does on the demo's data, one switch at a time.

    python benchmarks/demo_switches.py --out /tmp/switches --jobs 2 --results benchmarks/results
    python benchmarks/demo_switches.py --out /tmp/switches --only eeg-only:temporal    # a part; re-run to resume

Synthetic DEAP, 1 subject x 40 trials x 4 s, signal `complementary` (what `aimstf demo` trains on), valence,
kfold-trial (3 folds), `TrainConfig(model=M)` defaults; each fold trained with the kit's setting and with the
other one (`model_kwargs`). Comparisons (model:switch, kit value first):
- face-only:feature_norm  "batch" / None        (BatchNorm of the 128-d face feature before the head)
- eeg-only:temporal       "depthwise" / "full"  (the EEG temporal stage per electrode / over all electrodes)
- aimstf:modality_dropout 0.0 / 0.3             (training samples that lose one modality's feature)
- face-only:face_pretrain 0 / 5                 (TrainConfig: epochs of leak-free frame-CNN pretraining, train.pretrain_faces)
- aimstf:face_pretrain    0 / 5
A switch that is a TrainConfig field is set in the training config, any other is a model keyword. Every
comparison's kit setting is the model's default fit, so a fold already trained with defaults for another
comparison of the same model is reused (marked `reused_from`), not trained again.
Each finished fit is appended to OUT/rows.jsonl, so an interrupted run resumes. Writes RESULTS/demo_switches.md:
test accuracy per fold, the training loss after the first and the last epoch, seconds, the mean of each setting,
and each model's ceiling on that data; comparisons not (fully) run are listed.
"""
import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

COMPARISONS = {"face-only:feature_norm": ("batch", None), "eeg-only:temporal": ("depthwise", "full"),
               "aimstf:modality_dropout": (0.0, 0.3), "face-only:face_pretrain": (0, 5), "aimstf:face_pretrain": (0, 5)}
SEES = {"face-only": "face", "eeg-only": "eeg", "aimstf": "both"}


def _fit(job):
    "One fit in a worker: (comparison, value, fold, cache folder, n_folds, epochs, threads) -> a result row."
    from aimstf_kit.cache import open_cache
    from aimstf_kit.splits import make_splits
    import dataclasses
    from aimstf_kit.train import TrainConfig, fit
    name, value, k, cdir, n_folds, epochs, threads = job
    torch.set_num_threads(threads)
    model, switch = name.split(":")
    cache = open_cache(cdir)
    y = cache.labels("valence", 5.0, ">=")
    sp = list(make_splits("kfold-trial", cache.subject, cache.trial, n_folds=n_folds, labels=y))[k]
    cfg = TrainConfig(model=model) if epochs is None else TrainConfig(model=model, epochs=epochs)
    in_cfg = switch in {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = cfg.replace(**{switch: value}) if in_cfg else cfg
    t0 = time.perf_counter()
    r = fit(cache, sp, cfg, progress=False, model_kwargs=None if in_cfg else {switch: value})
    h = r["history"]
    return dict(comparison=name, value=value, fold=k, test_accuracy=r["test_accuracy"],
                loss_first=h[0]["train_loss"], loss_last=h[-1]["train_loss"], epochs=cfg.epochs,
                seconds=time.perf_counter() - t0)


def _reuse_defaults(rows, names, n_folds, done, log, stamp):
    "Fill each comparison's kit setting with its model's default fit of the fold made for another comparison."
    for n in names:
        model, kit = n.split(":")[0], COMPARISONS[n][0]
        for k in range(n_folds):
            same = [r for r in rows if r["comparison"].split(":")[0] == model and r["fold"] == k
                    and r["value"] == COMPARISONS[r["comparison"]][0] and r["comparison"] != n]
            if (n, kit, k) not in done and same:
                r = dict(same[0], comparison=n, value=kit, reused_from=same[0].get("reused_from", same[0]["comparison"]))
                rows.append(r)
                done.add((n, kit, k))
                with open(log, "a") as f:
                    f.write(json.dumps(dict(r, setup=stamp)) + "\n")


def report(rows, names, trials, seconds, n_folds, ceil) -> str:
    "demo_switches.md's text from the finished rows."
    lines = [f"The demo's data: synthetic DEAP, 1 subject x {trials} trials x {seconds} s, signal 'complementary', "
             f"valence, kfold-trial ({n_folds} folds), `TrainConfig(model=M)` defaults. Command: "
             "`python benchmarks/demo_switches.py --out DIR --jobs 2`. Ceilings on this data: "
             + ", ".join(f"{m} {ceil[s]:.3f}" for m, s in SEES.items()) + ".", ""]
    missing = []
    for name in names:
        model, switch = name.split(":")
        mine = sorted((r for r in rows if r["comparison"] == name), key=lambda r: (COMPARISONS[name].index(r["value"]), r["fold"]))
        lines += [f"## {model}, `{switch}` (kit setting {COMPARISONS[name][0]!r})", "",
                  f"| {switch} | fold | test accuracy | train loss, epoch 1 | train loss, last epoch | epochs | seconds |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['value']!r} | {r['fold']} | {r['test_accuracy']:.3f} | {r['loss_first']:.3f} | "
                  f"{r['loss_last']:.3f} | {r['epochs']} | {r['seconds']:.0f}"
                  + (f" (the fit of {r['reused_from']})" if r.get("reused_from") else "") + " |" for r in mine]
        lines.append("")
        for v in COMPARISONS[name]:
            accs = [r["test_accuracy"] for r in mine if r["value"] == v]
            if len(accs) == n_folds:
                lines.append(f"- {switch}={v!r}: mean test accuracy **{np.mean(accs):.3f}**")
            else:
                missing.append(f"{name}={v!r} ({n_folds - len(accs)} of {n_folds} folds)")
        lines.append("")
    if missing:
        lines.append("Not run (yet): " + ", ".join(missing) + ".")
    return "\n".join(lines) + "\n"


def main(argv=None):
    from aimstf_kit.experiments import synthetic_cache
    from aimstf_kit.synth import SynthConfig, ceilings
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--results", type=Path, default=None, help="where demo_switches.md goes (default: OUT)")
    ap.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(COMPARISONS)}")
    ap.add_argument("--jobs", type=int, default=1, help="fits side by side, one process each")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per fit")
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=None, help="default: TrainConfig()'s")
    a = ap.parse_args(argv)
    names = a.only.split(",") if a.only else list(COMPARISONS)
    bad = sorted(set(names) - set(COMPARISONS))
    if bad:
        ap.error(f"unknown comparison(s) {bad}; choose from {list(COMPARISONS)}")
    n_folds = 3
    cdir = synthetic_cache(a.out, "complementary", 1, a.trials, a.seconds, 1.0, True, 0, 1, False)
    log = a.out / "rows.jsonl"
    stamp = dict(trials=a.trials, seconds=a.seconds, epochs=a.epochs)
    rows = [json.loads(l) for l in log.read_text().splitlines() if l.strip()] if log.exists() else []
    rows = [r for r in rows if r.pop("setup", None) == stamp]
    done = {(r["comparison"], r["value"], r["fold"]) for r in rows}
    _reuse_defaults(rows, names, n_folds, done, log, stamp)
    jobs, queued = [], set()  # a model's default fit of a fold is trained once, for the first comparison needing it
    for n in names:
        for v in COMPARISONS[n]:
            for k in range(n_folds):
                key = (n.split(":")[0], k) if v == COMPARISONS[n][0] else None
                if (n, v, k) in done or (key and key in queued):
                    continue
                queued.add(key)
                jobs.append((n, v, k, str(cdir), n_folds, a.epochs, a.threads))
    with ProcessPoolExecutor(max_workers=a.jobs) as pool:
        for r in pool.map(_fit, jobs):
            rows.append(r)
            done.add((r["comparison"], r["value"], r["fold"]))
            with open(log, "a") as f:
                f.write(json.dumps(dict(r, setup=stamp)) + "\n")
            print({k: r[k] for k in ("comparison", "value", "fold", "test_accuracy", "seconds")}, file=sys.stderr, flush=True)
    _reuse_defaults(rows, names, n_folds, done, log, stamp)
    ceil = ceilings(SynthConfig(subjects=1, trials=a.trials, seconds=float(a.seconds), signal="complementary", seed=0))
    text = report(rows, list(COMPARISONS), a.trials, a.seconds, n_folds, ceil)
    res = a.results or a.out
    res.mkdir(parents=True, exist_ok=True)
    (res / "demo_switches.md").write_text(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
