#!/usr/bin/env bash
# Install torcheeg 1.1.3 without touching the rest of an environment.
#
#   bash benchmarks/torcheeg_setup.sh [TARGET]    # into a separate folder, TARGET defaults to benchmarks/.torcheeg_env
#   PYTHONPATH=benchmarks/.torcheeg_env python benchmarks/torcheeg_deap.py --help
#
#   bash benchmarks/torcheeg_setup.sh --env       # into the running environment ($PYTHON's), e.g. for
#                                                 # tests/test_torcheeg.py and aimstf_kit.interop.from_torcheeg
#
# torcheeg 1.1.3 pins scipy<=1.10.1, so everything goes in with --no-deps: torch, numpy, scipy,
# mne, pandas, tqdm, matplotlib, packaging come from the running environment ($PYTHON, default
# `python`). Besides the declared dependencies, its import chain needs joblib (+ cloudpickle),
# threadpoolctl and narwhals (scikit-learn) and xarray (mne_connectivity). Versions below are the
# ones tested with numpy 2.4 / scipy 1.17 / torch 2.14 / Python 3.11. Only torcheeg.datasets and
# torcheeg.transforms are exercised; torcheeg.trainers (pytorch-lightning) is not installed.
#
# --env never replaces a package the environment already has (whatever its version): those are left
# as they are and named; only the missing ones of the pinned set are installed, with --no-deps.
set -euo pipefail
PYTHON="${PYTHON:-python}"
PINNED=(torcheeg==1.1.3 lmdb==3.0.0 einops==0.8.2 xmltodict==1.0.4 scikit-learn==1.9.1 xlrd==2.0.2
        mne_connectivity==0.9.0 PyWavelets==1.9.0 spectrum==0.10.0 wfdb==4.3.1 torchmetrics==1.9.0
        joblib==1.6.0 cloudpickle==3.1.3 threadpoolctl==3.8.0 narwhals==2.29.0 xarray==2026.9.0)

if [[ "${1:-}" == "--env" ]]; then
    # the pinned requirements whose distribution is not installed yet (installed ones are kept, and named)
    mapfile -t TODO < <("$PYTHON" - "${PINNED[@]}" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
for req in sys.argv[1:]:
    name, want = req.split("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        print(req)
        continue
    note = "" if have == want else f" (pinned {want}; kept as it is)"
    print(f"torcheeg_setup: {name} {have} already installed{note}", file=sys.stderr)
PY
)
    if (( ${#TODO[@]} )); then
        "$PYTHON" -m pip install --no-deps "${TODO[@]}"
    fi
    "$PYTHON" -c "import torcheeg, torcheeg.datasets, torcheeg.transforms; print('torcheeg', torcheeg.__version__, 'in', torcheeg.__file__)"
    exit 0
fi

TARGET="${1:-$(cd "$(dirname "$0")" && pwd)/.torcheeg_env}"
mkdir -p "$TARGET"
"$PYTHON" -m pip install --no-deps --upgrade --target "$TARGET" "${PINNED[@]}"
PYTHONPATH="$TARGET" "$PYTHON" -c \
    "import torcheeg, torcheeg.datasets, torcheeg.transforms; print('torcheeg', torcheeg.__version__, 'in $TARGET')"
