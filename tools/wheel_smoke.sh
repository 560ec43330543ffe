#!/usr/bin/env bash
# Packaging smoke test (called by .ci/run; can be run by hand from anywhere in the repository):
# build the wheel (not an editable install) from a clean copy of the source, check what it contains,
# install it into a fresh virtual environment outside the repository, and from a folder outside the
# repository run `aimstf demo --help` and import every public module, checking that the import
# comes from that environment's site-packages and not from the repository.
# Usage: tools/wheel_smoke.sh [python]   (default: $PYTHON or python3). KEEP=1 keeps the scratch folder.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
py=${1:-${PYTHON:-python3}}
work=$(mktemp -d "${TMPDIR:-/tmp}/aimstf-wheel.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
unset PYTHONPATH
export PIP_DISABLE_PIP_VERSION_CHECK=1

# 1. a clean copy of the source (tracked and untracked, not ignored files): no stale build/ or egg-info
cd "$repo"
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf - | tar -xf - -C "$work/src"

# 2. the wheel
(cd "$work/src" && "$py" -m pip wheel -q --no-deps -w "$work/dist" .)
whl=$(ls "$work"/dist/*.whl)
echo "built $(basename "$whl")"

# 3. its content: every library module (subpackages included) and nothing else from the repository
"$py" - "$whl" "$work/src" <<'PY'
import sys, zipfile
from pathlib import Path
whl, src = sys.argv[1], Path(sys.argv[2])
names = zipfile.ZipFile(whl).namelist()
in_wheel = sorted(n for n in names if n.endswith(".py"))
in_repo = sorted(p.relative_to(src).as_posix() for p in (src / "aimstf_kit").rglob("*.py"))
assert any(n.startswith("aimstf_kit/models/") for n in in_wheel), f"the wheel lacks the aimstf_kit/models/ subpackage: {in_wheel}"
assert in_wheel == in_repo, f"wheel and source differ: only in wheel {sorted(set(in_wheel) - set(in_repo))}, only in source {sorted(set(in_repo) - set(in_wheel))}"
tops = sorted({n.split("/")[0] for n in names})
assert all(t == "aimstf_kit" or t.endswith(".dist-info") for t in tops), f"unexpected top-level entries in the wheel: {tops}"
print(f"wheel content ok: {len(in_wheel)} modules, top level {tops}")
PY

# 4. a fresh environment outside the repository, with the wheel. Its dependencies (torch with its CUDA
# libraries is about 6 GB) are by default taken from the calling Python's environment through a .pth line,
# placed after the fresh site-packages, so the import below must still find the wheel's copy first; a
# second 6 GB copy filled the CI machine's disk. `pip check` then proves the wheel's declared
# dependencies are met. FULL=1 installs the dependencies into the fresh environment instead.
"$py" -m venv "$work/venv"
if [ "${FULL:-0}" = 1 ]; then
  "$work/venv/bin/python" -m pip install -q --no-cache-dir "$whl"
else
  "$work/venv/bin/python" -m pip install -q --no-cache-dir --no-deps "$whl"
  deps=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  fresh=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  [ "$deps" != "$fresh" ] || { echo "FAIL: the calling Python is the fresh environment" >&2; exit 1; }
  echo "$deps" > "$fresh/zz_aimstf_smoke_deps.pth"
  # the venv's own old setuptools would shadow the one torch requires
  "$work/venv/bin/python" -m pip uninstall -q -y setuptools
  "$work/venv/bin/python" -m pip check
  echo "dependencies from $deps (FULL=1 installs them into the fresh environment)"
fi

# 5. from outside the repository: the console script and every public module
cd "$work"
"$work/venv/bin/aimstf" demo --help >/dev/null
echo "aimstf demo --help: ok"
"$work/venv/bin/python" -c "import aimstf_kit, aimstf_kit.models, aimstf_kit.datasets, aimstf_kit.experiments, aimstf_kit.interpret, aimstf_kit.cli; print(aimstf_kit.__version__, aimstf_kit.__file__)"
"$work/venv/bin/python" - "$repo" <<'PY'
import sys, sysconfig
from pathlib import Path
import aimstf_kit
f = Path(aimstf_kit.__file__).resolve()
site = Path(sysconfig.get_paths()["purelib"]).resolve()
repo = Path(sys.argv[1]).resolve()
assert site in f.parents, f"aimstf_kit was imported from {f}, not from the fresh environment's {site}"
assert repo not in f.parents, f"aimstf_kit was imported from the repository ({f})"
print(f"imported from the fresh environment: {f.parent}")
PY
