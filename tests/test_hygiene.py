"""Code hygiene rules of the architecture refactor (issue 10), checked on the source as it is (fast, no data):

- every exported notebook cell is small (at most 40 code lines),
- the library is pyflakes-clean (no unused imports, undefined names ...),
- each on-disk format has one owner: only `aimstf_kit/runs.py` names `run.json` and only
  `aimstf_kit/cache.py` names `manifest.json`,
- nothing in tests/ or nbs/ puts the benchmarks folder on `sys.path` (benchmarks are not a library),
- notebooks write their examples into `scratch_dir()` folders and remove them in their last cell (`clean_scratch()`)."""
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "aimstf_kit"
NBS = ROOT / "nbs"

MAX_CELL_LINES = 40
EXPORT_DIRECTIVE = re.compile(r"^#\|\s*export[si]?\b")  # `#| export`, `#|export`, `#| exports`, `#| exporti`


def lib_modules() -> list:
    "Every module of the library (subpackages included) except nbdev's generated `_modidx.py`."
    return sorted(p for p in LIB.rglob("*.py") if p.name != "_modidx.py" and "__pycache__" not in p.parts)


def rel(p: Path) -> str:
    return p.relative_to(ROOT).as_posix()


def cell_source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def code_lines(src: str) -> list:
    "Non-blank lines that are not comments (nbdev directives `#| ...` are comments too)."
    return [l for l in src.splitlines() if l.strip() and not l.strip().startswith("#")]


def test_exported_cells_are_small():
    big = []
    for nb in sorted(NBS.glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        for i, cell in enumerate(cells):
            if cell.get("cell_type") != "code":
                continue
            src = cell_source(cell)
            if not any(EXPORT_DIRECTIVE.match(l.strip()) for l in src.splitlines()):
                continue
            lines = code_lines(src)
            if len(lines) > MAX_CELL_LINES:
                big.append(f"{rel(nb)} cell {i}: {len(lines)} code lines, starting {lines[0].strip()[:70]!r}")
    assert not big, (f"{len(big)} exported cell(s) have more than {MAX_CELL_LINES} code lines "
                     "(split them into smaller functions, one per cell):\n" + "\n".join(big))


def test_library_is_pyflakes_clean():
    r = subprocess.run([sys.executable, "-m", "pyflakes", "aimstf_kit"], cwd=ROOT, capture_output=True, text=True)
    assert "No module named pyflakes" not in r.stderr, "pyflakes is a dev requirement: pip install -e '.[dev]'"
    lines = [l for l in (r.stdout + r.stderr).splitlines() if l.strip() and not l.startswith("aimstf_kit/_modidx.py")]
    assert not lines, "pyflakes reports (fix them in the notebooks, then nbdev_export):\n" + "\n".join(lines)


def string_literals(tree) -> list:
    "`(line, text)` of every string constant in code (f-string parts included), docstrings left out."
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docs.add(id(first.value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


FORMAT_OWNERS = {"run.json": "aimstf_kit/runs.py", "manifest.json": "aimstf_kit/cache.py"}


def test_one_owner_per_on_disk_format():
    "Only the owning module names a format's file in code (comments and docstrings may mention it)."
    found = {name: [] for name in FORMAT_OWNERS}
    for p in lib_modules():
        for line, s in string_literals(ast.parse(p.read_text(encoding="utf-8"), filename=str(p))):
            for name in FORMAT_OWNERS:
                if name in s:
                    found[name].append((rel(p), line))
    problems = []
    for name, owner in FORMAT_OWNERS.items():
        if not (ROOT / owner).is_file():
            problems.append(f"{name}: its owner {owner} does not exist")
        others = [f"{m}:{line}" for m, line in found[name] if m != owner]
        if others:
            problems.append(f"{name} is named outside {owner}, at: " + ", ".join(others))
    assert not problems, ("each on-disk format must have one owner; other modules go through the owner's functions:\n"
                          + "\n".join(problems))


def path_hacks(text: str) -> list:
    """Lines that put the benchmarks folder on the import path: a line naming `sys.path` (or PYTHONPATH) together
    with `benchmarks`, or with a name that is assigned on a line naming `benchmarks`."""
    lines = text.splitlines()
    bench_names = set()
    for l in lines:
        m = re.match(r"\s*([A-Za-z_]\w*)\s*=[^=]", l)
        if m and "benchmarks" in l:
            bench_names.add(m.group(1))
    bad = []
    for i, l in enumerate(lines):
        if "sys.path" not in l and "PYTHONPATH" not in l:
            continue
        if "benchmarks" in l or bench_names & set(re.findall(r"[A-Za-z_]\w*", l)):
            bad.append((i + 1, l.strip()))
    return bad


def test_benchmarks_are_not_put_on_sys_path():
    bad = []
    for p in sorted((ROOT / "tests").rglob("*.py")):
        if p.resolve() == Path(__file__).resolve():
            continue
        bad += [f"{rel(p)}:{i}: {l}" for i, l in path_hacks(p.read_text(encoding="utf-8"))]
    for nb in sorted(NBS.rglob("*.ipynb")):
        for k, cell in enumerate(json.loads(nb.read_text(encoding="utf-8"))["cells"]):
            if cell.get("cell_type") == "code":
                bad += [f"{rel(nb)} cell {k} line {i}: {l}" for i, l in path_hacks(cell_source(cell))]
    assert not bad, ("tests and notebooks must not import from benchmarks/ through sys.path "
                     "(move what they need into the library):\n" + "\n".join(bad))


def test_path_hack_detector():
    "The detector itself: direct, through a variable, and a harmless line."
    assert path_hacks('sys.path.insert(0, str(ROOT / "benchmarks"))')
    assert path_hacks('B = ROOT / "benchmarks"\nimport sys\nsys.path.append(str(B))')
    assert not path_hacks('sys.path.insert(0, str(ROOT))\nx = "benchmarks"')


# The layers of README's "Architecture" table, bottom first: a module may import (at the top or inside a
# function) only modules of its own layer or of the layers before it.
LAYERS = [
    ["core"],
    ["deap", "mahnob", "synth", "faces"],
    ["cache"],
    ["prepare", "interop"],
    ["splits", "datasets"],
    ["models.registry", "models.eeg", "models.face", "models.fusion", "losses", "models.aimstf", "models.baselines",
     "models.wrappers", "models"],
    ["metrics", "train"],
    ["runs"],
    ["executors"],
    ["experiments", "learning", "ablation", "predict"],
    ["interpret", "explorer"],
    ["cli"],
]


def kit_imports(path: Path) -> set:
    "The kit modules a module imports anywhere in its code (relative or absolute), as dotted names under aimstf_kit."
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = path.relative_to(LIB).with_suffix("").parts[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(pkg[:len(pkg) - node.level + 1]) + (node.module.split(".") if node.module else [])
            elif node.module and node.module.startswith("aimstf_kit"):
                base = node.module.split(".")[1:]
            else:
                continue
            names = [".".join(base)] if base else []
            if not node.module or not base:  # `from . import deap` / `from aimstf_kit import mahnob`
                names = [".".join(base + [a.name]) for a in node.names]
            out.update(n for n in names if n)
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".", 1)[1] for a in node.names if a.name.startswith("aimstf_kit."))
    return out


def test_imports_follow_the_layers():
    layer = {m: i for i, ms in enumerate(LAYERS) for m in ms}
    mods = {p: ".".join(p.relative_to(LIB).with_suffix("").parts).removesuffix(".__init__") for p in lib_modules()
            if p.name != "__init__.py" or p.parent != LIB}
    missing = sorted(m for m in mods.values() if m not in layer)
    assert not missing, f"modules missing from LAYERS (add them to README's Architecture table too): {missing}"
    bad = [f"{m} (layer {layer[m]}) imports {d} (layer {layer[d]})" for p, m in mods.items()
           for d in sorted(kit_imports(p)) if d in layer and layer[d] > layer[m]]
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_readme_holds_the_committed_benchmark_tables():
    "README's demo and learning tables are the committed benchmarks/results files (tools/sync_readme.py copies them)."
    import importlib.util
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("sync_readme", root / "tools" / "sync_readme.py")
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    readme = (root / "README.md").read_text()
    for name in sync.BLOCKS:
        start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
        assert start in readme and end in readme, f"README.md lacks the {name} markers"
        got = readme.split(start, 1)[1].split(end, 1)[0]
        assert got == sync.block(name), f"README's {name} table is not benchmarks/results' (run python tools/sync_readme.py)"


# A notebook's examples write synthetic data sets, caches and runs; before `scratch_dir` they went into
# `tempfile.mkdtemp()` folders that nothing removed: one `nbdev_test` left 2.2 GB in /tmp and filled CI's disk.
SCRATCH_EXEMPT = {
    "00_core.ipynb": "defines and tests scratch_dir itself (its own mkdtemp folder is removed in the same cell)",
    "index.ipynb": "README's source: one tiny folder, removed when Python exits; a hidden cell would show in README",
}


def test_notebooks_clean_up_their_scratch_folders():
    bad = []
    for nb_path in sorted(p for p in NBS.glob("*.ipynb") if p.name not in SCRATCH_EXEMPT):
        cells = [c for c in json.loads(nb_path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
        srcs = [cell_source(c) for c in cells]
        examples = [s for s in srcs if not any(EXPORT_DIRECTIVE.match(l.strip()) for l in s.splitlines())]
        if any("mkdtemp(" in s for s in examples):
            bad.append(f"{nb_path.name}: an example cell calls tempfile.mkdtemp(); use aimstf_kit.core.scratch_dir()")
        if any("scratch_dir(" in s for s in examples) and "clean_scratch()" not in srcs[-1]:
            bad.append(f"{nb_path.name}: uses scratch_dir() but its last code cell does not call clean_scratch()")
    assert not bad, "\n".join(bad)


def test_scratch_rule_catches_a_leak(tmp_path, monkeypatch):
    "The rule above fails on a notebook that makes a folder and never removes it."
    nb = {"cells": [{"cell_type": "code", "source": "from aimstf_kit.core import scratch_dir\nroot = scratch_dir()"},
                    {"cell_type": "code", "source": "print(root)"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "99_leak.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "NBS", tmp_path)
    try:
        test_notebooks_clean_up_their_scratch_folders()
    except AssertionError as e:
        assert "99_leak.ipynb: uses scratch_dir() but its last code cell" in str(e)
    else:
        raise AssertionError("a notebook that never calls clean_scratch() passed the rule")
