"""Preparation and loading speed, printed side by side in one run (issue 3 targets in brackets).

    python benchmarks/bench_prepare.py               # everything (about 5 minutes, ~4 GB of scratch disk)
    python benchmarks/bench_prepare.py --skip-memory # without the 32-subject peak-memory run

1. EEG-only preparation of DEAP-size subjects (40 trials x 63 s) by `aimstf_kit.prepare`, against
   torcheeg 1.1.3's DEAPDataset (1-s chunks, baseline removal) on the same files [>= 5x faster].
   torcheeg lives in its own environment: `bash benchmarks/torcheeg_setup.sh` once.
2. Face crops from a 60-s, 50-fps, 720x576 video [>= 5x faster than real time on 2 cores].
3. Shuffled batches of 64 bimodal samples from a cache through `make_loader` [>= 50,000 samples/s, issue 13].
   Training reads faces as uint8 (`train._to` makes them floats on the device, bit-identical), so the "faces
   uint8" rows are the training loader; "float32" is `EmotionDataset`'s default for other uses. The rows with
   2 loader workers use DataLoader worker processes (fork) on the same 2 cores.
   `prepare` (step 1) applies `tune_cpu_allocator()`, as the kit's training code does, so the
   loader is measured with it; the first loader row repeats the float32 case in a fresh process
   with the default allocator.
4. Peak memory while preparing 32 DEAP-size subjects without video [<= 1.5 GB].
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TORCHEEG_ENV = HERE / ".torcheeg_env"


def best_of(fn, repeat):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def row(name, value, unit, target=None, ratio=None):
    t = "" if target is None else f"[{target}]"
    r = "" if ratio is None else f"{ratio:.1f}x"
    print(f"{name:<64} {value:>10.3f} {unit:<10} {r:>7} {t}")


def eeg_prep(scratch, n_subjects, repeat):
    from aimstf_kit.core import PrepareConfig
    from aimstf_kit.prepare import prepare
    from aimstf_kit.synth import SynthConfig, synth_deap
    root = scratch / "deap40"
    synth_deap(root, SynthConfig(subjects=n_subjects, trials=40, seconds=60, video=False), progress=False)

    def ours():
        shutil.rmtree(scratch / "c1", ignore_errors=True)
        prepare("deap", root, scratch / "c1", PrepareConfig(faces=False), progress=False)

    ours_s = best_of(ours, repeat) / n_subjects
    tg = None
    if (TORCHEEG_ENV).is_dir():
        env = {**os.environ, "PYTHONPATH": str(TORCHEEG_ENV)}
        out = subprocess.run([sys.executable, str(HERE / "torcheeg_deap.py"), "--root", str(root), "--io-dir",
                              str(scratch / "tg_io"), "--subjects", str(n_subjects)], capture_output=True, text=True, env=env)
        lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
        if out.returncode == 0 and lines:
            tg = json.loads(lines[-1])
        else:
            print("torcheeg run failed:", out.stderr[-2000:])
    return root, ours_s, tg


def face_speed(scratch):
    from aimstf_kit.faces import extract_faces
    from aimstf_kit.synth import SynthConfig, synth_deap
    root = scratch / "deapvid"
    synth_deap(root, SynthConfig(subjects=1, trials=2, seconds=60), progress=False)
    vids = sorted((root / "face_video" / "s01").glob("*.avi"))
    one = best_of(lambda: extract_faces(vids[0], 60), 1)
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(2) as ex:
        list(ex.map(extract_faces, vids[:1], [1]))  # warm the workers
        t0 = time.perf_counter()
        res = list(ex.map(extract_faces, vids, [60] * len(vids)))
        two = (time.perf_counter() - t0) / len(vids)
    missed = sum(r.missed for r in res)
    return one, two, missed, sum(r.requested for r in res)


def loader_speed(scratch, n_subjects=2, batches=300, only_float=False):
    "A DEAP-size cache with faces (random content: speed does not depend on it), read in shuffled batches."
    from aimstf_kit.datasets import EmotionDataset, make_loader, open_cache
    from bench_memory import write_cache  # the same writer: the kit's own cache functions
    cdir = write_cache(scratch / "cache_faces", n_subjects)
    cache = open_cache(cdir)
    out = {}
    cases = [("both, faces float32 in [0,1] (default)", {}, 0), ("both, faces uint8", {"face_dtype": "uint8"}, 0),
             ("eeg only", {"modality": "eeg"}, 0), ("both, faces float32, 2 loader workers", {}, 2),
             ("both, faces uint8, 2 loader workers", {"face_dtype": "uint8"}, 2)]
    for label, kw, workers in cases[:1] if only_float else cases:
        ds = EmotionDataset(cache, **kw)
        it = iter(make_loader(ds, batch_size=64, shuffle=True, num_workers=workers))
        for _ in range(5):
            next(it)
        t0 = time.perf_counter()
        n = 0
        for _ in range(batches):
            try:
                b = next(it)
            except StopIteration:
                it = iter(make_loader(ds, batch_size=64, shuffle=True, num_workers=workers))
                b = next(it)
            n += len(b["label"])
        out[label] = n / (time.perf_counter() - t0)
    return out


def peak_memory(scratch, n_subjects=32):
    from aimstf_kit.synth import SynthConfig, synth_deap
    root = scratch / "deap32"
    synth_deap(root, SynthConfig(subjects=n_subjects, trials=40, seconds=60, video=False), progress=False)
    # VmHWM (peak resident set of this process image) rather than ru_maxrss, which Linux carries over
    # from the parent across fork + exec and would report the benchmark's own peak
    code = ("import re, time; from aimstf_kit.prepare import prepare; from aimstf_kit.core import PrepareConfig;"
            f"t0 = time.perf_counter(); prepare('deap', {str(root)!r}, {str(scratch / 'c32')!r}, PrepareConfig(faces=False), progress=False);"
            "hwm = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1);"
            "print(time.perf_counter() - t0, hwm)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1]) / 1024  # seconds, MiB


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--only-loader", action="store_true", help="only step 3 (the loader)")
    ap.add_argument("--subjects", type=int, default=2, help="DEAP-size subjects for the EEG comparison")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--scratch", type=Path, default=None)
    a = ap.parse_args()
    scratch = Path(a.scratch or tempfile.mkdtemp(prefix="aimstf-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    import torch
    torch.set_num_threads(2)
    print(f"{os.cpu_count()} cores, torch {torch.__version__}, numpy {np.__version__}; scratch {scratch}")
    print(f"{'what':<64} {'value':>10} {'unit':<10} {'ratio':>7} [target]")
    try:
        if a.only_loader:
            for label, sps in loader_speed(scratch).items():
                row(f"shuffled batches of 64 from a cache: {label}", sps, "samples/s", ">= 50000", sps / 50000)
            return
        _, ours, tg = eeg_prep(scratch, a.subjects, a.repeat)
        row("EEG-only prepare, DEAP-size subject: aimstf_kit", ours, "s/subject")
        if tg:
            row(f"EEG-only prepare, DEAP-size subject: torcheeg {tg['torcheeg_version']} DEAPDataset", tg["build_s_per_subject"],
                "s/subject", ">= 5x", tg["build_s_per_subject"] / ours)
            row(f"  torcheeg: reading its {tg['samples']} samples once", tg["read_samples_per_s"], "samples/s")
        else:
            print("  (torcheeg not installed: `bash benchmarks/torcheeg_setup.sh` makes benchmarks/.torcheeg_env)")
        one, two, missed, req = face_speed(scratch)
        row("faces, one 60-s 50-fps 720x576 video, 1 process", one, "s/video", ">= 5x real time", 60 / one)
        row("faces, 60-s videos, 2 worker processes (throughput)", two, "s/video", ">= 5x real time", 60 / two)
        print(f"  face detection missed {missed} of {req} sampled frames")
        code = ("import sys; sys.argv = ['x']; sys.path.insert(0, %r); import bench_prepare as b, pathlib, tempfile; "
                "r = b.loader_speed(pathlib.Path(tempfile.mkdtemp(dir=%r)), only_float=True); print(list(r.values())[0])") % (str(HERE), str(scratch))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if out.returncode == 0:
            sps = float(out.stdout.split()[-1])
            row("shuffled batches of 64: both, float32, default allocator", sps, "samples/s", ">= 50000", sps / 50000)
        for label, sps in loader_speed(scratch).items():
            row(f"shuffled batches of 64 from a cache: {label}", sps, "samples/s", ">= 50000", sps / 50000)
        if not a.skip_memory:
            secs, mib = peak_memory(scratch)
            row("peak memory, prepare 32 DEAP-size subjects without video", mib, "MiB", "<= 1536 MiB", 1536 / mib)
            row("  time for those 32 subjects", secs, "s")
    finally:
        if a.scratch is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
