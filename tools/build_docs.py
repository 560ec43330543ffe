#!/usr/bin/env python
"""Build the documentation site from the notebooks in nbs/, without Quarto (Sphinx + myst-nb).

    python tools/build_docs.py                  # all notebooks -> docs/_build/html/index.html
    python tools/build_docs.py --only 00_core 07_splits --jobs 2 --out /tmp/site

Steps, each failing with a message that names the notebook (and cell):
1. copy every notebook of nbs/ (names not starting with `_` or `.`) into OUT/nbs/ and apply nbdev's meaning of
   its cell directives: `#| hide` cells run but are not shown (tag `remove-cell`); cells carrying a flag of
   settings.ini `tst_flags` (`#| slow`) are dropped (never run, never shown); `#| eval: false` cells are shown but
   not run; cells calling `nbdev_export(` are dropped (nbdev_test skips them too); the leading `#|` directive
   lines are removed from the code that is shown; a cell left empty (`#| default_exp x`) is dropped; the outputs
   of `#| export` cells are not shown (nbdev shows neither their code nor their outputs; here the code stays).
   Links in markdown cells to files outside nbs/ (index.ipynb is the README source, so its links are relative to
   the repository root) are copied into the site under `_repo/` and rewritten to point there.
2. execute each notebook once (nbclient, `--jobs` notebooks at a time, each in a fresh kernel whose working
   folder is OUT/nbs, the repository root on PYTHONPATH as nbdev_test puts it on sys.path; for each `'../x'`
   (or `Path('..') / 'x'`) that a code cell names, OUT/x is a link to the repository's x, so that
   `../benchmarks/results/...` resolves as under nbdev_test; TMPDIR is a per-notebook folder under OUT, deleted
   afterwards, so `tempfile.mkdtemp()` scratch does not pile up in /tmp; matplotlib's inline backend whatever
   MPLBACKEND says outside, so figures are stored in the pages).
3. run Sphinx (docs/conf.py; myst-nb renders the stored outputs, executing nothing) with `-W --keep-going`.
4. check that every internal link of the HTML (href/src without a scheme) names a file of the site, and that
   its `#anchor`, if any, is an id of that page.
"""
import argparse
import configparser
import html.parser
import json
import multiprocessing as mp
import os
import re
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO = Path(__file__).resolve().parents[1]
CONF_DIR = REPO / "docs"
_DIRECTIVE = re.compile(r"^\s*#\s*\|\s*(.*?)\s*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_MD_LINK = re.compile(r"(!?\[(?:[^\[\]]|\[[^\]]*\])*\]\()(<[^>]*>|[^)\s]+)((?:\s+\"[^\"]*\")?\))")
_HTML_LINK = re.compile(r"""((?:src|href)\s*=\s*["'])([^"']+)(["'])""")
_IMAGE_EXT = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}


class BuildError(Exception):
    "A step of the site build failed; the message names the notebook, cell or file."


def tst_flags(repo):
    "The cell flags nbdev_test skips by default: settings.ini `tst_flags` of `repo` (nothing if there is none)."
    ini = Path(repo) / "settings.ini"
    if not ini.exists():
        return set()
    cfg = configparser.ConfigParser()
    cfg.read(ini, encoding="utf-8")
    return set(cfg["DEFAULT"].get("tst_flags", "").split())


def split_directives(source):
    "`(directives, code)` of a code cell: nbdev's leading `#| name args` lines as {name: [args]}, and the rest."
    lines, dirs = source.splitlines(), {}
    i = 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        if m:
            text = m.group(1).replace(":", ": ").split()
            if text:
                dirs[text[0].rstrip(":")] = [a.lower() for a in text[1:]]
        elif lines[i].strip():
            break
        i += 1
    return dirs, "\n".join(lines[i:]).strip("\n")


def _is_external(target):
    return bool(_SCHEME.match(target)) or target.startswith(("#", "/", "//"))


def _rewrite_target(target, bases, repo, nbs, copies):
    "The link `target` for the site: a notebook of nbs/ stays a document link; another repository file is copied."
    if _is_external(target):
        return target
    path, sep, frag = unquote(target.strip("<>")).partition("#")
    for base in bases:
        f = (base / path).resolve()
        if not f.is_file() or not f.is_relative_to(repo):
            continue
        if f.parent == nbs and f.suffix == ".ipynb":
            return f.name + sep + frag
        rel = f.relative_to(repo).as_posix()
        copies.setdefault("files", {})[rel] = f
        return "_repo/" + rel + sep + frag
    return target  # exists nowhere: left as written, so Sphinx or the link check reports it


def rewrite_links(text, bases, repo, nbs, copies):
    """Rewrite the relative links of a markdown cell (outside code fences) with `_rewrite_target`.

    Markdown links to non-image repository files get the `path:` scheme (a download link, copied by Sphinx)."""
    def md(m):
        new = _rewrite_target(m.group(2), bases, repo, nbs, copies)
        if new != m.group(2) and new.startswith("_repo/") and not m.group(1).startswith("!") \
                and Path(new.partition("#")[0]).suffix.lower() not in _IMAGE_EXT:
            new = "path:" + new
        return m.group(1) + new + m.group(3)

    def raw(m):  # raw HTML is not seen by Sphinx: its files are copied into the HTML output as they are
        new = _rewrite_target(m.group(2), bases, repo, nbs, copies)
        if new.startswith("_repo/"):
            copies.setdefault("raw", set()).add(new.partition("#")[0][len("_repo/"):])
        return m.group(1) + new + m.group(3)

    parts = re.split(r"(^```.*?^```)", text, flags=re.S | re.M)
    return "".join(p if p.startswith("```") else _HTML_LINK.sub(raw, _MD_LINK.sub(md, p)) for p in parts)


def preprocess(nb, flags, bases, repo, nbs, copies):
    """Apply nbdev's cell directives to notebook `nb` (an nbformat node, changed in place) for the site.

    Returns the original index of every kept cell (for error messages)."""
    cells, origin = [], []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            cell.source = rewrite_links(cell.source, bases, repo, nbs, copies)
        elif cell.cell_type == "code":
            dirs, code = split_directives(cell.source)
            if flags & dirs.keys() or "nbdev_export(" in cell.source or not code.strip():
                continue
            tags = set(cell.metadata.get("tags", []))
            if "hide" in dirs or dirs.get("include") == ["false"]:
                tags.add("remove-cell")
            if dirs.get("echo") == ["false"]:
                tags.add("remove-input")
            if dirs.get("output") == ["false"]:
                tags.add("remove-output")
            if dirs.keys() & {"export", "exporti"}:  # nbdev never shows these cells' outputs (nor their code)
                tags.add("remove-output")
            if dirs.get("eval") == ["false"]:
                tags.add("skip-execution")
            cell.source, cell.outputs, cell.execution_count = code, [], None
            if tags:
                cell.metadata["tags"] = sorted(tags)
        cells.append(cell)
        origin.append(i)
    nb.cells = cells
    return origin


def add_toctree(nb, docnames):
    "Append the site's table of contents (the notebooks in file order, shown with their titles) to the home page."
    import nbformat
    body = "\n".join(docnames)
    nb.cells.append(nbformat.v4.new_markdown_cell(f"```{{toctree}}\n:maxdepth: 1\n:caption: Chapters\n\n{body}\n```"))


def _client(nb, cwd, timeout):
    "An nbclient NotebookClient that remembers which cell it is running."
    from nbclient import NotebookClient

    class Client(NotebookClient):
        current = None

        async def async_execute_cell(self, cell, cell_index, *args, **kw):
            self.current = cell_index
            return await super().async_execute_cell(cell, cell_index, *args, **kw)

    return Client(nb, timeout=timeout, kernel_name="python3", allow_errors=False, store_widget_state=True,
                  record_timing=False, extra_arguments=["--IPKernelApp.log_level=ERROR"],
                  resources={"metadata": {"path": str(cwd)}})


def _describe_failure(name, nb, origin, index, exc):
    "`nbs/NAME, cell N (code, first line: ...)` and the error, without ANSI colours."
    if index is None:
        return f"{name}: the kernel failed before running any cell: {type(exc).__name__}: {exc}"
    first = next((l for l in nb.cells[index].source.splitlines() if l.strip()), "")
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc).strip().splitlines()[-1] if str(exc).strip() else "")
    if isinstance(exc, TimeoutError):  # nbclient's CellTimeoutError
        ename, evalue = "CellTimeoutError", "the cell ran longer than --timeout seconds"
    tb = _ANSI.sub("", getattr(exc, "traceback", "") or "").strip().splitlines()
    tail = "\n".join("    " + l for l in tb[-12:])
    return (f"nbs/{name}, cell {origin[index]} (counting all cells from 0; first line: {first[:100]!r}): "
            f"{ename}: {_ANSI.sub('', str(evalue))}\n{tail}")


def execute_notebook(job):
    """Preprocess and execute one notebook (`job`: a dict made by `build`), writing it to `job['dst']`.

    Returns a dict: name, ok, seconds, error (a message naming the notebook and cell, or None), copies."""
    import nbformat
    src, dst, name = Path(job["src"]), Path(job["dst"]), Path(job["src"]).name
    nb = nbformat.read(src, as_version=4)
    copies = {}
    repo, nbs = Path(job["repo"]), src.parent
    bases = [repo, nbs] if src.stem == "index" else [nbs]
    origin = preprocess(nb, set(job["flags"]), bases, repo, nbs, copies)
    if job.get("toctree") is not None:
        add_toctree(nb, job["toctree"])
    tmp = Path(job["tmp"]) / src.stem
    tmp.mkdir(parents=True, exist_ok=True)
    os.environ.update(TMPDIR=str(tmp), MPLBACKEND=job["mpl_backend"])
    import tempfile
    tempfile.tempdir = None  # forget a cached TMPDIR (the kernel's connection file goes there too)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))
    client, start, error = _client(nb, dst.parent, job["timeout"]), time.time(), None
    try:
        client.execute()
    except Exception as exc:  # nbclient: CellExecutionError, CellTimeoutError, DeadKernelError...
        error = _describe_failure(name, nb, origin, client.current, exc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for cell in nb.cells:  # myst-nb needs no execution bookkeeping
        cell.metadata.pop("execution", None)
    if error is None:
        nbformat.write(nb, dst)
    files = {k: str(v) for k, v in copies.get("files", {}).items()}
    return dict(name=name, ok=error is None, seconds=time.time() - start, error=error,
                copies=files, raw=sorted(copies.get("raw", ())))


class _Links(html.parser.HTMLParser):
    "The internal href/src targets and the ids of one HTML page."

    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("id", "name") and v:
                self.ids.add(v)
            if k in ("href", "src") and v and not _SCHEME.match(v) and not v.startswith("//"):
                self.links.append(v)


def check_links(html_dir):
    """Every internal link of the HTML pages under `html_dir`: a list of 'page: link (why)' for the broken ones.

    A link without a scheme must name a file of the site (query strings ignored); a `#anchor` must be an id or
    name of the page it points to (for links into .html pages)."""
    html_dir = Path(html_dir)
    pages = {p: _Links() for p in html_dir.rglob("*.html")}
    for p, parser in pages.items():
        parser.feed(p.read_text(encoding="utf-8", errors="replace"))
    broken = []
    for p, parser in pages.items():
        for link in parser.links:
            parts = urlsplit(link)
            target = (p.parent / unquote(parts.path)).resolve() if parts.path else p
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{p.relative_to(html_dir)}: {link} (no such file)")
            elif parts.fragment and target.suffix == ".html" and target in pages \
                    and unquote(parts.fragment) not in pages[target].ids:
                broken.append(f"{p.relative_to(html_dir)}: {link} (no id {parts.fragment!r} in that page)")
    return broken


def run_sphinx(src, out, conf_dir=CONF_DIR):
    "Sphinx HTML build of `src` into `out`/html with warnings as errors; raises BuildError with its warnings."
    from sphinx.cmd.build import build_main
    warnings = out / "sphinx-warnings.txt"
    code = build_main(["-b", "html", "-W", "--keep-going", "-E", "-q", "-w", str(warnings), "-c", str(conf_dir),
                       "-d", str(out / "doctrees"), str(src), str(out / "html")])
    if code:
        text = warnings.read_text(encoding="utf-8").strip() if warnings.exists() else ""
        raise BuildError("Sphinx failed (warnings are errors; each names the notebook):\n"
                         + (text or f"exit status {code}, see above"))


def _site_size(html_dir):
    files = [p for p in Path(html_dir).rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    big = sorted(files, key=lambda p: -p.stat().st_size)[:5]
    return total, [(p.relative_to(html_dir).as_posix(), p.stat().st_size) for p in big]


def _select(nbs, only):
    "The notebooks of `nbs` to build: all (nbdev's rule: names not starting with `_` or `.`), or those named."
    found = sorted(p for p in nbs.glob("*.ipynb") if not p.name.startswith(("_", ".")))
    if not only:
        return found
    by = {p.stem: p for p in found}
    missing = [o for o in only if Path(o).stem not in by]
    if missing:
        raise BuildError(f"--only: no notebook {', '.join(missing)} in {nbs} (there are: {', '.join(by)})")
    return [by[s] for s in sorted({Path(o).stem for o in only})]


_PARENT_REF = re.compile(r"""["']\.\./([^/"'\s]+)|["']\.\.["']\s*\)\s*/\s*["']([^/"'\s]+)""")


def parent_refs(notebooks):
    "Repository entries named through the parent folder in code cells of `notebooks`: `'../x/..'`, `Path('..') / 'x'`."
    import nbformat
    names = set()
    for p in notebooks:
        for cell in nbformat.read(p, as_version=4).cells:
            if cell.cell_type == "code":
                names |= {a or b for a, b in _PARENT_REF.findall(cell.source)}
    return names


def _link_repo(repo, names, out):
    "Make OUT/<name> a link to the repository's <name> for each of `names`, so that `../name` from OUT/nbs finds it."
    for name in sorted(names):
        e, link = repo / name, out / name
        if not e.exists() or name in ("nbs", "html", "doctrees", "tmp", "jupyter_execute") or name.startswith("."):
            continue
        if link.is_symlink() or not link.exists():
            link.unlink(missing_ok=True)
            link.symlink_to(e.resolve(), target_is_directory=e.is_dir())


def _timings(out):
    f = out / "timings.json"
    try:
        return json.loads(f.read_text())
    except (OSError, ValueError):
        return {}


def build(nbs=REPO / "nbs", out=REPO / "docs" / "_build", jobs=1, only=None, timeout=1800,
          mpl_backend="module://matplotlib_inline.backend_inline", conf_dir=CONF_DIR, log=print):
    """Build the site of the notebooks in `nbs` into `out`/html; raises BuildError naming what failed.

    Returns a dict: notebooks (name -> seconds), seconds (execution, sphinx, check, total), size, largest."""
    t0, nbs, out = time.time(), Path(nbs).resolve(), Path(out).resolve()
    repo = nbs.parent
    chosen = _select(nbs, only)
    for d in ("nbs", "html", "doctrees", "tmp", "jupyter_execute"):
        shutil.rmtree(out / d, ignore_errors=True)
    (out / "sphinx-warnings.txt").unlink(missing_ok=True)
    (out / "nbs").mkdir(parents=True)
    _link_repo(repo, parent_refs(chosen), out)
    docs = [p.stem for p in chosen if p.stem != "index"]
    if not any(p.stem == "index" for p in chosen):  # --only without the home page: a stub one
        (out / "nbs" / "index.md").write_text("# Selected notebooks\n\n```{toctree}\n:maxdepth: 1\n\n"
                                              + "\n".join(docs) + "\n```\n", encoding="utf-8")
    order = sorted(chosen, key=lambda p: -_timings(out).get(p.name, 0))  # the slowest first
    work = [dict(src=str(p), dst=str(out / "nbs" / p.name), repo=str(repo), flags=sorted(tst_flags(repo)),
                 timeout=timeout, tmp=str(out / "tmp"), mpl_backend=mpl_backend,
                 toctree=docs if p.stem == "index" else None) for p in order]
    log(f"executing {len(work)} notebook(s), {jobs} at a time, into {out / 'nbs'}")
    results = []
    __import__("nbclient")  # imported once here: the forked workers inherit it
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")  # fork: no re-imports
    with ctx.Pool(max(1, min(jobs, len(work))), maxtasksperchild=1) as pool:  # a fresh process per notebook
        for r in pool.imap_unordered(execute_notebook, work):
            results.append(r)
            log(f"  {'ok    ' if r['ok'] else 'FAILED'} {r['name']} ({r['seconds']:.0f} s)")
    shutil.rmtree(out / "tmp", ignore_errors=True)
    times = {**_timings(out), **{r["name"]: round(r["seconds"], 1) for r in results if r["ok"]}}
    (out / "timings.json").write_text(json.dumps(times, indent=1, sort_keys=True))
    failed = [r["error"] for r in sorted(results, key=lambda r: r["name"]) if not r["ok"]]
    if failed:
        raise BuildError(f"{len(failed)} notebook(s) failed to execute:\n" + "\n".join(failed))
    t1 = time.time()
    raw = set()
    for r in results:
        for rel, f in r["copies"].items():
            (out / "nbs" / "_repo" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, out / "nbs" / "_repo" / rel)
        raw |= {(rel, r["copies"][rel]) for rel in r["raw"]}
    log("running Sphinx (warnings are errors)")
    run_sphinx(out / "nbs", out, conf_dir)
    for rel, f in raw:  # files linked from raw HTML: Sphinx does not copy them
        (out / "html" / "_repo" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, out / "html" / "_repo" / rel)
    t2 = time.time()
    broken = check_links(out / "html")
    if broken:
        raise BuildError(f"{len(broken)} broken internal link(s) in {out / 'html'}:\n" + "\n".join(broken))
    size, largest = _site_size(out / "html")
    t3 = time.time()
    return dict(notebooks={r["name"]: r["seconds"] for r in results}, size=size, largest=largest,
                seconds=dict(execution=t1 - t0, sphinx=t2 - t1, check=t3 - t2, total=t3 - t0))


def main(argv=None):
    "Command line: see the module docstring."
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "_build",
                    help="build folder (default docs/_build); the site is OUT/html/index.html")
    ap.add_argument("--jobs", type=int, default=1,
                    help="notebooks executed at the same time (default 1: each trains with every core; two at once on"
                         " 2 cores ran about 5x slower)")
    ap.add_argument("--only", nargs="+", metavar="NB", help="build only these notebooks (e.g. 00_core 07_splits)")
    ap.add_argument("--nbs", type=Path, default=REPO / "nbs", help="notebook folder (default nbs/)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds one cell may run (default 1800)")
    ap.add_argument("--mpl-backend", default="module://matplotlib_inline.backend_inline",
                    help="MPLBACKEND of the kernels (default: inline, so figures are stored in the pages)")
    a = ap.parse_args(argv)
    if a.jobs < 1:
        ap.error("--jobs must be at least 1")
    try:
        res = build(a.nbs, a.out, a.jobs, a.only, a.timeout, a.mpl_backend)
    except BuildError as e:
        print(f"build_docs: FAILED: {e}", file=sys.stderr)
        return 1
    s = res["seconds"]
    print(f"built {a.out / 'html' / 'index.html'}: {len(res['notebooks'])} notebook(s), "
          f"{res['size'] / 1e6:.1f} MB; {s['total']:.0f} s (execution {s['execution']:.0f} s, "
          f"Sphinx {s['sphinx']:.0f} s, link check {s['check']:.1f} s)")
    print("largest files: " + ", ".join(f"{n} {b / 1e3:.0f} kB" for n, b in res["largest"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
