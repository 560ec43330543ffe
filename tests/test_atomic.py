"""Every file written under a run folder or a cache is written atomically: a writer killed mid-way leaves
the old file or none, never a torn one (issue 10).

Three levels:
- unit: `aimstf_kit.core.atomic_write` in a child process killed with SIGKILL in the middle of its write;
- static: no plain writes (`write_text`, `np.save`, `torch.save`, `open(..., "w")` ...) in the library, except
  inside an `atomic_write` callback or in an explicit allow-list of temporary paths that are renamed afterwards;
- end to end: `aimstf prepare` and `aimstf cv` killed at several moments; every file left parses completely,
  and `--resume` / a rerun finishes the job."""
import ast
import csv
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aimstf_kit.core import PrepareConfig, atomic_write
from aimstf_kit.prepare import prepare
from aimstf_kit.synth import SynthConfig, synth_deap

from conftest import aimstf_cmd

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "aimstf_kit"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def kill(p: subprocess.Popen):
    "SIGKILL a child started with `start_new_session=True`, and everything it started."
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def wait_for(cond, p: subprocess.Popen, timeout: float = 120, poll: float = 0.01) -> bool:
    "Poll `cond()` until it holds (True) or the process ends or the time is up (False)."
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        if p.poll() is not None:
            return bool(cond())
        time.sleep(poll)
    return False


# ---------------------------------------------------------------- unit level: atomic_write killed mid-write

CHILD = r"""
import os, sys, time
from aimstf_kit.core import atomic_write
target, marker, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
new = b"N" * size
def write(f):
    f.write(new[: size // 2])
    f.flush()
    os.fsync(f.fileno())
    open(marker, "w").close()  # the parent kills us now, half-way through
    time.sleep(60)
    f.write(new[size // 2 :])
atomic_write(target, write)
"""

SIZE = 8 << 20


def kill_mid_write(target: Path, tmp_path: Path):
    marker = tmp_path / "half-written"
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(target), str(marker), str(SIZE)], env=ENV,
                         start_new_session=True, stderr=subprocess.PIPE)
    reached = wait_for(marker.exists, p, timeout=60)
    kill(p)
    assert reached, "the writer ended before it was half-way: " + p.stderr.read().decode()[-2000:]
    return [q.name for q in target.parent.iterdir() if q != target]


def test_atomic_write_killed_midway_keeps_the_old_file(tmp_path):
    target = tmp_path / "run" / "result.json"
    target.parent.mkdir()
    old = b"O" * (SIZE // 3)
    target.write_bytes(old)
    left = kill_mid_write(target, tmp_path)
    assert target.read_bytes() == old, "the target was torn or replaced by a killed writer"
    assert all(n.startswith(".") for n in left), f"a killed writer left a visible file: {left}"


def test_atomic_write_killed_midway_leaves_no_file(tmp_path):
    target = tmp_path / "run" / "checkpoint.pt"
    target.parent.mkdir()
    left = kill_mid_write(target, tmp_path)
    assert not target.exists(), "a killed writer left a (partial) target"
    assert all(n.startswith(".") for n in left), f"a killed writer left a visible file: {left}"


def test_atomic_write_replaces_and_cleans_up(tmp_path):
    target = tmp_path / "new" / "deeper" / "f.bin"  # parents are created
    atomic_write(target, lambda f: f.write(b"first"))
    assert target.read_bytes() == b"first"
    big = os.urandom(1 << 20)
    atomic_write(target, lambda f: f.write(big))
    assert target.read_bytes() == big
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.bin"], "a temporary file was left behind"

    def fail(f):
        f.write(b"half")
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        atomic_write(target, fail)
    assert target.read_bytes() == big, "a failed write changed the target"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.bin"], "a failed write left its temporary file"


# ---------------------------------------------------------------- static level: no plain writes in the library

# Plain writes that are safe because they go to a temporary path that is renamed into place afterwards.
# (module, snippet of the call, reason). The snippet must occur in the call's source; keep one line of reason.
# Writes syntactically inside an `atomic_write(...)` call (e.g. `atomic_write(p, lambda f: torch.save(x, f))`)
# or inside a function passed to it by name need no entry.
ALLOWED = [
    ("aimstf_kit/cache.py", 'np.save(tmp / f"{k}.npy", a)', "inside write_subject's temporary folder, renamed into place"),
    ("aimstf_kit/cache.py", '(tmp / "meta.json").write_bytes(', "inside write_subject's temporary folder, renamed into place"),
]

NP_NAMES = {"np", "numpy"}
NP_WRITERS = {"save", "savez", "savez_compressed", "savetxt"}
WRITE_FLAGS = {"O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC"}


def _mode_writes(mode) -> bool:
    if mode is None:
        return False
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return bool(set(mode.value) & set("wax+"))
    return True  # a mode computed at run time: assume it writes


def is_plain_write(call: ast.Call) -> bool:
    f = call.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
    owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else None
    kw = {k.arg: k.value for k in call.keywords}
    if name in ("write_text", "write_bytes", "tofile"):
        return True
    if name == "to_csv":  # to_csv() without a target returns a string
        return bool(call.args) or "path_or_buf" in kw
    if name in NP_WRITERS and owner in NP_NAMES:
        return True
    if name == "save" and owner == "torch":
        return True
    if name == "open" and owner == "os":  # os.open(path, flags)
        return any(isinstance(n, ast.Attribute) and n.attr in WRITE_FLAGS for a in call.args[1:] for n in ast.walk(a))
    if name in ("open", "fdopen"):
        # builtin/io open(path, mode) and os.fdopen(fd, mode): mode second; Path.open(mode): mode first
        pos = 0 if isinstance(f, ast.Attribute) and owner not in ("io", "os", "builtins", "codecs") else 1
        mode = kw.get("mode", call.args[pos] if len(call.args) > pos else None)
        return _mode_writes(mode)
    return False


def _callee(call: ast.Call):
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def plain_writes(path: Path) -> list:
    "`(line, call source)` of every plain write in a module that is not inside an atomic_write callback."
    src = path.read_text(encoding="utf-8")
    tree = ast.parse(src, filename=str(path))
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    callbacks = {a.id for n in ast.walk(tree) if isinstance(n, ast.Call) and _callee(n) == "atomic_write"
                 for a in n.args[1:] + [k.value for k in n.keywords] if isinstance(a, ast.Name)}

    def protected(node) -> bool:
        child, node = node, parents.get(node)
        while node is not None:
            if isinstance(node, ast.Call) and _callee(node) == "atomic_write" and child is not node.func:
                return True  # an argument of atomic_write(...), e.g. its lambda
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                    node.name in callbacks or (path.name == "core.py" and node.name == "atomic_write")):
                return True  # a function handed to atomic_write by name, or atomic_write itself
            child, node = node, parents.get(node)
        return False

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and is_plain_write(node) and not protected(node):
            found.append((node.lineno, " ".join(ast.get_source_segment(src, node).split())))
    return sorted(found)


def scanned_modules() -> list:
    return sorted(p for p in LIB.rglob("*.py") if p.name != "_modidx.py" and "__pycache__" not in p.parts)


def _norm(s: str) -> str:
    return " ".join(s.split())


@functools.lru_cache(maxsize=None)
def library_writes() -> tuple:
    "`(module, line, call, allowed-by entry or None)` for every plain write in the library."
    out = []
    for p in scanned_modules():
        mod = p.relative_to(ROOT).as_posix()
        for line, call in plain_writes(p):
            entry = next((e for e in ALLOWED if e[0] == mod and _norm(e[1]) in call), None)
            out.append((mod, line, call, entry))
    return tuple(out)


def test_no_plain_writes_in_the_library():
    bad = [f"{mod}:{line}: {call[:150]}" for mod, line, call, entry in library_writes() if entry is None]
    assert not bad, ("plain (non-atomic) writes; a killed process can leave these files torn. Write them with "
                     "core.atomic_write (or to a temporary path renamed afterwards, then add the call to ALLOWED "
                     "in tests/test_atomic.py with its reason):\n" + "\n".join(bad))


def test_allow_list_has_no_stale_entries():
    used = {entry for *_, entry in library_writes() if entry is not None}
    stale = [f"{m}: {s!r} ({why})" for m, s, why in ALLOWED if (m, s, why) not in used]
    assert not stale, "ALLOWED entries that match no write any more (remove them):\n" + "\n".join(stale)


def test_plain_write_detector():
    "The detector itself, on a module written for it."
    code = '''
import os, numpy as np, torch, pandas as pd
from pathlib import Path
def writer(p, df, x):
    p.write_text("a")                                   # 3 flagged
    np.save(p, x); torch.save(x, p); df.to_csv(p)       # 4 5 6
    open(p, "w"); open(p, mode="ab"); p.open("w")       # 7 8 9
    os.fdopen(3, "wb"); os.open(p, os.O_WRONLY | os.O_CREAT)  # 10 11
    open(p); open(p, "rb"); p.open(); s = df.to_csv(index=False); np.load(p)  # not writes
    atomic_write(p, lambda f: torch.save(x, f))          # inside a callback
    def cb(f):
        np.save(f, x)
    atomic_write(p, cb)
'''
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        mod = Path(d) / "m.py"
        mod.write_text(code)
        found = plain_writes(mod)
    calls = [c for _, c in found]
    assert len(found) == 9, calls
    assert [l for l, _ in found] == [5, 6, 6, 6, 7, 7, 7, 8, 8], found


# ---------------------------------------------------------------- end to end: prepare and cv killed with SIGKILL

def parse_problem(path: Path):
    "Why `path` is not a complete file of its kind (None when it parses completely)."
    suf = path.suffix.lower()
    try:
        if suf == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif suf == ".csv":
            text = path.read_text(encoding="utf-8")
            if not text.endswith("\n"):
                return "does not end with a newline"
            rows = list(csv.reader(text.splitlines()))
            if not rows or not rows[0]:
                return "no header"
            if any(len(r) != len(rows[0]) for r in rows[1:]):
                return "a row with a different number of fields than the header"
            pd.read_csv(path)
        elif suf == ".md":
            if not path.read_text(encoding="utf-8").strip():
                return "empty"
        elif suf == ".pt":
            import torch
            torch.load(path, map_location="cpu", weights_only=False)
        elif suf == ".npy":
            np.load(path, allow_pickle=False)
        elif suf == ".npz":
            with np.load(path, allow_pickle=False) as z:
                for k in z.files:
                    z[k]
        elif suf == ".png":
            b = path.read_bytes()
            if not (b.startswith(b"\x89PNG") and b[-12:-4] == b"\x00\x00\x00\x00IEND"):
                return "not a complete PNG"
        elif suf == ".pdf":
            b = path.read_bytes()
            if not (b.startswith(b"%PDF") and b"%%EOF" in b[-1024:]):
                return "not a complete PDF"
        else:
            return f"unknown file type {suf!r} (teach tests/test_atomic.py:parse_problem to check it)"
    except Exception as e:  # noqa: BLE001 - any failure to parse is the finding
        return f"{type(e).__name__}: {str(e)[:200]}"
    return None


def torn_files(root: Path) -> list:
    "Files under `root` that do not parse; temporaries (a name starting with '.') are skipped."
    bad = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            why = parse_problem(p)
            if why:
                bad.append(f"{rel}: {why}")
    return bad


def test_parse_problem_finds_torn_files(tmp_path):
    import torch
    (tmp_path / "a.json").write_text('{"x": [1, 2')
    (tmp_path / "b.csv").write_text("a,b\n1,2\n3")
    buf = tmp_path / "c.pt"
    torch.save({"w": torch.zeros(1000)}, buf)
    buf.write_bytes(buf.read_bytes()[:-100])
    (tmp_path / "d.md").write_text("")
    (tmp_path / ".e.json.tmp").write_text("{")  # a temporary: allowed
    (tmp_path / "f.json").write_text('{"x": 1}')
    assert [b.split(":")[0] for b in torn_files(tmp_path)] == ["a.json", "b.csv", "c.pt", "d.md"]


def start(args, **kw) -> subprocess.Popen:
    return subprocess.Popen(aimstf_cmd() + [str(a) for a in args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=ENV, start_new_session=True, **kw)


def entries(root: Path) -> dict:
    "Every file and folder under `root` (temporaries included) with its mtime."
    out = {}
    # os.walk skips a folder that disappears while it is listed (a temporary folder renamed into place)
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(d) / name
            try:
                out[p] = p.stat().st_mtime_ns
            except FileNotFoundError:  # renamed or removed while we looked
                pass
    return out


def fresh(root: Path, before: dict, pred=lambda p: True) -> bool:
    "Whether an entry for which `pred` holds is new or changed since `before`."
    return any(pred(p) and before.get(p) != t for p, t in entries(root).items())


def temporary(p: Path) -> bool:
    return p.name.startswith(".")


def kill_at(args, root: Path, moments: dict, reset=None) -> list:
    """Start `aimstf *args` once per moment and SIGKILL it as soon as `moments[what](before)` holds (`before`:
    `entries(root)` at the start); after every kill, no file under `root` may be torn. Returns what happened.
    `reset()`, if given, is called before a moment when the previous run finished unkilled (nothing left to do)."""
    history = []
    for what, cond in moments.items():
        if reset is not None and history and history[-1].endswith("not reached"):
            reset()
        before = entries(root)
        p = start(args(before))
        hit = wait_for(lambda: cond(before), p, timeout=120)
        finished = p.poll() is not None
        kill(p)
        history.append(f"{what}: {'killed' if hit and not finished else 'not reached'}")
        assert not finished or p.returncode == 0, (what, p.stderr.read().decode()[-3000:])
        torn = torn_files(root)
        assert not torn, f"after the kill at '{what}' ({history}): torn files {torn}"
    print(history)
    return history


def complete(args) -> subprocess.CompletedProcess:
    r = subprocess.run(aimstf_cmd() + [str(a) for a in args], capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


@pytest.fixture(scope="module")
def deap_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("atomic") / "DEAP"
    synth_deap(root, SynthConfig(subjects=3, trials=10, seconds=4, video=False, signal="eeg", seed=3), progress=False)
    return root


def test_prepare_killed_leaves_no_torn_file(deap_tree, tmp_path):
    cache = tmp_path / "cache"
    args = ["prepare", "deap", deap_tree, cache, "--no-faces", "--quiet"]
    # a subject's temporary folder lives for milliseconds, so the kills also come at moments that last:
    # right after the first subject is in place (the second is being prepared), at a manifest update
    has = lambda name: lambda before: any(p.name == name and p not in before for p in entries(cache))
    history = kill_at(lambda before: args, cache, {
        "first subject in place": has("s001"),
        "manifest written": lambda before: fresh(cache, before, lambda p: p.name == "manifest.json"),
        "mid subject write": lambda before: fresh(cache, before, temporary),
        "second subject in place": has("s002"),
    }, reset=lambda: shutil.rmtree(cache, ignore_errors=True))  # a finished run leaves nothing to interrupt
    assert sum(h.endswith("killed") for h in history) >= 2, history
    complete(args)
    assert not torn_files(cache)
    try:
        from aimstf_kit.cache import open_cache
    except ImportError:
        from aimstf_kit.datasets import open_cache
    assert list(open_cache(cache).subjects) == [1, 2, 3]


@pytest.fixture(scope="module")
def cache(deap_tree, tmp_path_factory) -> Path:
    return prepare("deap", deap_tree, tmp_path_factory.mktemp("atomic_cache"), PrepareConfig(faces=False),
                   subjects=[1], progress=False)


def test_cv_killed_leaves_no_torn_file_and_resumes(cache, tmp_path):
    run = tmp_path / "RUN"
    args = ["cv", cache, "--model", "eeg-only", "--epochs", "3", "--folds", "5", "--out", run, "--quiet"]
    # kill at the run's first file, during a checkpoint's atomic write (a new temporary exists), and while
    # the final results, summary and table are written; each restart resumes the run
    resume = lambda before: args + (["--resume"] if (run / "run.json").exists() else [])
    history = kill_at(resume, run, {
        "first file": lambda before: fresh(run, before, Path.is_file),
        "mid checkpoint write": lambda before: fresh(run, before, temporary),
        "final outputs": lambda before: (run / "results.csv").exists(),
    })
    assert sum(h.endswith("killed") for h in history) >= 2, history
    complete(args + ["--resume"])
    assert not torn_files(run)
    df = pd.read_csv(run / "results.csv")
    assert len(df) == 5 and sorted(df["fold"]) == [0, 1, 2, 3, 4], df
