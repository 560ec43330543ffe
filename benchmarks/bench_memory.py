"""Memory of DataLoader workers over a big cache (issue 13): a cache pickles by path, so a worker's private memory
does not grow with the cache.

    python benchmarks/bench_memory.py --scratch /tmp/memcache [--subjects 32] [--keep]

Writes a cache of SUBJECTS DEAP-size subjects (40 trials x 60 s = 2,400 one-second samples each, with faces:
about 186 MB a subject, 6 GB for 32) through the kit's own cache writer, then iterates shuffled bimodal batches
of 64 through `make_loader` with 2 *spawn* workers, over the first subject alone and over all of them, and
reads each worker's anonymous (private) resident memory (`RssAnon` in /proc/PID/status) after 30 batches.
Target: the 32-subject workers exceed the 1-subject workers by < 50 MB. Results: benchmarks/results/memory.md.
"""
import argparse
import pickle
import shutil
import sys
import time
from pathlib import Path

import numpy as np


def write_cache(scratch: Path, n_subjects: int) -> Path:
    "A cache of `n_subjects` DEAP-size subjects with faces, written by `aimstf_kit.cache` (random contents)."
    from aimstf_kit.cache import SubjectSamples, add_subject, finish_cache, start_cache
    from aimstf_kit.core import PrepareConfig
    cdir, man = start_cache(scratch, "deap", PrepareConfig(), scratch, ["valence", "arousal", "dominance", "liking"])
    n, per = 40 * 60, 5
    r = np.random.default_rng(0)
    for s in range(1, n_subjects + 1):
        if str(s) in man["subjects"]:
            continue
        ss = SubjectSamples(
            subject=s, eeg=r.standard_normal((n, 32, 128), dtype=np.float32),
            faces=r.integers(0, 255, (n, per, 64, 64, 3), dtype=np.uint8), has_face=np.ones(n, bool),
            ratings=r.uniform(1, 9, (n, 4)).astype(np.float32), trial=np.repeat(np.arange(1, 41), 60).astype(np.int32),
            experiment_id=np.repeat(np.arange(1, 41), 60).astype(np.int32), segment=np.tile(np.arange(60), 40).astype(np.int32),
            session=np.full(n, -1, np.int32), frame=np.zeros((n, per), np.int32), box=np.zeros((n, per, 4), np.int32),
            report=dict(n=n, face_samples=n, face_frames_requested=n * per, face_frames_missed=0, eeg_only=False, skipped=[]))
        add_subject(cdir, man, ss, dict(fingerprint="bench"))
        print(f"  subject {s} written", flush=True)
    finish_cache(cdir, man, list(range(1, n_subjects + 1)))
    return cdir


def rss_anon_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_memory(cdir: Path, subjects: list, batches: int = 30, mmap: bool = True) -> dict:
    "Anonymous memory (MB) of each of 2 spawn loader workers after `batches` shuffled batches of 64."
    from aimstf_kit.cache import open_cache
    from aimstf_kit.datasets import EmotionDataset, make_loader
    ds = EmotionDataset(open_cache(cdir, subjects=subjects, mmap=mmap), modality="both")
    loader = make_loader(ds, batch_size=64, shuffle=True, num_workers=2, multiprocessing_context="spawn")
    t0 = time.perf_counter()
    it = iter(loader.loader)  # the DataLoader that `make_loader` wraps: its workers read the batches
    for _ in range(batches):
        next(it)
    secs = time.perf_counter() - t0
    kids = [w.pid for w in it._workers]
    mem = sorted(rss_anon_mb(p) for p in kids)
    return dict(subjects=len(subjects), mmap=mmap, samples=len(ds), pickle_bytes=len(pickle.dumps(ds)), workers=len(kids),
                rss_anon_mb=[round(m, 1) for m in mem], seconds=round(secs, 1))


def measured(cdir: Path, subjects: list, mmap: bool = True) -> dict:
    """`worker_memory` in a fresh process, which exits as soon as it has printed (spawn workers over face batches
    sometimes abort with "terminate called without an active exception" while a DataLoader shuts them down, after
    the measurement; the kit's own loader uses the platform's start method, fork on Linux, where this was not seen)."""
    import json
    import subprocess
    r = subprocess.run([sys.executable, __file__, "--measure", str(cdir), ",".join(map(str, subjects)), str(int(mmap))],
                       capture_output=True, text=True)
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError(f"measurement failed: {r.stderr[-2000:]}")
    return json.loads(lines[-1])


def main():
    if sys.argv[1:2] == ["--measure"]:
        import json
        import os
        cdir, subs, mmap = sys.argv[2], [int(s) for s in sys.argv[3].split(",")], sys.argv[4] == "1"
        print(json.dumps(worker_memory(Path(cdir), subs, mmap=mmap)), flush=True)
        os._exit(0)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scratch", type=Path, required=True)
    ap.add_argument("--subjects", type=int, default=32)
    ap.add_argument("--keep", action="store_true", help="keep the scratch cache")
    ap.add_argument("--results", type=Path, default=None, help="write memory.md here")
    a = ap.parse_args()
    t0 = time.perf_counter()
    cdir = write_cache(a.scratch, a.subjects)
    print(f"cache of {a.subjects} subjects written in {time.perf_counter() - t0:.0f} s: {cdir}")
    one = measured(cdir, [1])
    full = measured(cdir, list(range(1, a.subjects + 1)))
    byval = measured(cdir, [1, 2], mmap=False)  # what every cache cost before it pickled by path
    extra = max(full["rss_anon_mb"]) - max(one["rss_anon_mb"])
    lines = ["# DataLoader workers over a big cache (`python benchmarks/bench_memory.py`)", "",
             f"{a.subjects} DEAP-size subjects with faces (2,400 samples each), batches of 64 bimodal samples, 2 spawn workers, "
             "anonymous resident memory (RssAnon) of each worker after 30 batches.", "",
             "| cache | samples | dataset pickle | workers' RssAnon (MB) | 30 batches |", "|---|---|---|---|---|"]
    for r in (one, full, byval):
        how = "" if r["mmap"] else ", in memory (`mmap=False`: pickled by value, as every cache was before)"
        lines.append(f"| {r['subjects']} subject(s){how} | {r['samples']} | {r['pickle_bytes']:,} B | {r['rss_anon_mb']} | {r['seconds']} s |")
    lines += ["", f"Largest worker: {extra:+.1f} MB with {a.subjects} subjects against 1 (target < 50 MB): "
              f"{'PASS' if extra < 50 else 'FAIL'}."]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.results:
        a.results.mkdir(parents=True, exist_ok=True)
        (a.results / "memory.md").write_text(text)
    if not a.keep:
        shutil.rmtree(a.scratch, ignore_errors=True)
    return 0 if extra < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
