#!/usr/bin/env bash
# Install torcheeg 1.1.3 into a separate target folder for benchmarks/torcheeg_deap.py,
# without touching the project's environment.
#
#   bash benchmarks/torcheeg_setup.sh [TARGET]    # TARGET defaults to benchmarks/.torcheeg_env
#   PYTHONPATH=benchmarks/.torcheeg_env python benchmarks/torcheeg_deap.py --help
#
# torcheeg 1.1.3 pins scipy<=1.10.1, so everything goes in with --no-deps: torch, numpy, scipy,
# mne, pandas, tqdm, matplotlib, packaging come from the running environment ($PYTHON, default
# `python`). Besides the declared dependencies, its import chain needs joblib (+ cloudpickle),
# threadpoolctl and narwhals (scikit-learn) and xarray (mne_connectivity). Versions below are the
# ones tested with numpy 2.4 / scipy 1.17 / torch 2.14 / Python 3.11. Only torcheeg.datasets and
# torcheeg.transforms are exercised; torcheeg.trainers (pytorch-lightning) is not installed.
set -euo pipefail
TARGET="${1:-$(cd "$(dirname "$0")" && pwd)/.torcheeg_env}"
PYTHON="${PYTHON:-python}"
mkdir -p "$TARGET"
"$PYTHON" -m pip install --no-deps --upgrade --target "$TARGET" \
    torcheeg==1.1.3 lmdb==3.0.0 einops==0.8.2 xmltodict==1.0.4 scikit-learn==1.9.1 xlrd==2.0.2 \
    mne_connectivity==0.9.0 PyWavelets==1.9.0 spectrum==0.10.0 wfdb==4.3.1 torchmetrics==1.9.0 \
    joblib==1.6.0 cloudpickle==3.1.3 threadpoolctl==3.8.0 narwhals==2.29.0 xarray==2026.9.0
PYTHONPATH="$TARGET" "$PYTHON" -c \
    "import torcheeg, torcheeg.datasets, torcheeg.transforms; print('torcheeg', torcheeg.__version__, 'in $TARGET')"
