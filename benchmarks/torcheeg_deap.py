"""Speed baseline: torcheeg 1.1.3 `DEAPDataset` (1-s chunks, baseline removal) on DEAP-format files.

Needs the separate torcheeg environment from `bash benchmarks/torcheeg_setup.sh`:

    PYTHONPATH=benchmarks/.torcheeg_env python benchmarks/torcheeg_deap.py \
        --root DEAP_ROOT --io-dir SCRATCH --subjects N

DEAP_ROOT holds `data_preprocessed_python/sNN.dat`. torcheeg reads every file in its folder, so the
first N `sNN.dat` are symlinked into a temporary folder and that is what it gets. SCRATCH is deleted
first so the dataset is really built. Times (1) the build, from the constructor call until it returns
(chunk_size=128, baseline_chunk_size=128, num_baseline=3, offline BaselineRemoval, no hooks,
num_worker=0, default LMDB io), and (2) reading every sample once through `dataset[i]`, keeping the
EEG. Prints one JSON line on stdout.
"""
import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import torcheeg
from torcheeg import transforms
from torcheeg.datasets import DEAPDataset


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, type=Path, help="folder holding data_preprocessed_python/")
    ap.add_argument("--io-dir", required=True, type=Path, help="scratch folder for torcheeg's cache (deleted first)")
    ap.add_argument("--subjects", type=int, default=1, help="use the first N sNN.dat files")
    a = ap.parse_args()

    files = sorted((a.root / "data_preprocessed_python").glob("s[0-9][0-9].dat"))[: a.subjects]
    if len(files) < a.subjects:
        ap.error(f"only {len(files)} sNN.dat files under {a.root / 'data_preprocessed_python'}")
    shutil.rmtree(a.io_dir, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="tg_deap_") as tmp:
        for f in files:
            (Path(tmp) / f.name).symlink_to(f.resolve())

        t0 = time.perf_counter()
        ds = DEAPDataset(root_path=tmp, chunk_size=128, baseline_chunk_size=128, num_baseline=3,
                         online_transform=None, offline_transform=transforms.BaselineRemoval(),
                         label_transform=None, after_trial=None, after_session=None,
                         io_path=str(a.io_dir), num_worker=0, verbose=False)
        build_s = time.perf_counter() - t0

        n = len(ds)
        t0 = time.perf_counter()
        for i in range(n):
            eeg = ds[i][0]
        read_s = time.perf_counter() - t0

    print(json.dumps({"torcheeg_version": torcheeg.__version__, "subjects": len(files), "samples": n,
                      "sample_shape": list(eeg.shape), "build_s": round(build_s, 3),
                      "build_s_per_subject": round(build_s / len(files), 3),
                      "read_samples_per_s": round(n / read_s, 1)}))


if __name__ == "__main__":
    main()
