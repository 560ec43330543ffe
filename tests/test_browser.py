"""The notebooks in a real browser: JupyterLab + headless Chromium (Playwright), Run All, then the explorer's widgets.

What it does, in order (one JupyterLab server and one browser for the whole module):

- copies `nbs/` to a temporary folder (Run All and autosave must not touch the committed notebooks) and starts
  JupyterLab there on 127.0.0.1 with a free port and a token, with fresh Jupyter config / data / runtime /
  settings / workspace / IPython folders (so no user setting leaks in; JupyterLab's defaults otherwise) and
  `--LabApp.expose_app_in_browser=True` (for `window.jupyterapp`);
- opens `index.ipynb`, `30_interpret.ipynb` and `31_explorer.ipynb` in turn, runs all cells
  (`notebook:run-all-cells`) and waits until the kernel is idle and no cell is queued, then requires
  every code cell to have an execution count and no error output (see `ERRORS` below);
- in `31_explorer`: the explorer must render as widgets (a `.jupyter-widgets` box holding `.widget-dropdown`
  and `.widget-slider` controls, no "VBox(children=...)" text); changing a control must change the shown
  figures; 20 consecutive changes (slider steps by keyboard, trial dropdown changes; each change's view
  checked once the kernel is idle again), then a burst of 5 quick trial changes, must give 0 blank figures
  (see BLANK below); and JupyterLab's Log Console must hold 0 entries for the notebook afterwards (a probe
  notebook checks first that a widget callback's print does reach the Log Console and is counted).

Screenshots go to `$AIMSTF_SCREENSHOTS` if set, else to a pytest temporary folder; their paths are printed.
Skipped when /usr/bin/chromium or playwright is missing, unless CI=true (then it fails and says how to install).
Run: `python -m pytest -q -s tests/test_browser.py`.
"""
import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
NOTEBOOKS = ("index.ipynb", "30_interpret.ipynb", "31_explorer.ipynb")
RUN_TIMEOUT = 480  # seconds for one notebook's Run All (30_interpret: 170-220 s on 2 busy cores)
N_CHANGES = 20
MAX_PNG = 280_000  # screenshots are re-encoded with a palette above this size

# ERRORS, precisely: a notebook "has an error output" when (a) any output in the notebook model has
# output_type "error" (what a raised exception produces), or (b) a rendered output element
# `.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]` (stderr streams and error
# outputs both render with that MIME type) contains "Traceback" or "Error:" (an exception printed to stderr,
# e.g. by a library catching it). Warnings on stderr are reported (printed) but are not errors.
ERROR_WORDS = ("Traceback", "Error:")


def _missing() -> str:
    "Why the browser test cannot run here ('' when it can)."
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing"
    for mod, what in (("playwright.sync_api", "the playwright Python package"), ("jupyterlab", "jupyterlab")):
        try:
            __import__(mod)
        except ImportError:
            return f"{what} is missing"
    return ""


def _require_browser():
    why = _missing()
    if not why:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser test: {why}; install with `apt-get install -y chromium` and `pip install playwright "
                    "jupyterlab` (or `pip install -e .[dev]`); no `playwright install`: the test uses /usr/bin/chromium")
    pytest.skip(f"browser test: {why}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lab_env(home: Path) -> dict:
    "The server's environment: fresh Jupyter / JupyterLab / IPython / temp folders, the venv's scripts first on PATH."
    env = dict(os.environ)
    for var in ("MPLBACKEND", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "PYTHONSTARTUP"):
        env.pop(var, None)  # conftest sets MPLBACKEND=Agg, which would turn off inline figures in the kernel
    dirs = dict(JUPYTER_CONFIG_DIR="config", JUPYTER_DATA_DIR="data", JUPYTER_RUNTIME_DIR="runtime",
                JUPYTERLAB_SETTINGS_DIR="settings", JUPYTERLAB_WORKSPACES_DIR="workspaces", IPYTHONDIR="ipython")
    for var, sub in dirs.items():
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    (home / "tmp").mkdir(exist_ok=True)
    env["TMPDIR"] = str(home / "tmp")  # the kernels' scratch folders (the explorer keeps its own) stay in the test's
    return env


class Lab:
    "A JupyterLab server in a subprocess, serving a temporary copy of nbs/."

    def __init__(self, tmp: Path):
        self.root = tmp / "nbs"
        shutil.copytree(ROOT / "nbs", self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "_proc"))
        self.port, self.token = _free_port(), "aimstf-" + os.urandom(8).hex()
        self.log_path = tmp / "jupyterlab.log"
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root}", "--LabApp.expose_app_in_browser=True",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=_lab_env(tmp / "home"), stdout=self.log,
                                     stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(self.url(path), method=method, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def _wait_ready(self, timeout: float = 90):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            try:
                self.api("api/status")
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not answer on port {self.port} within {timeout} s:\n{self.log_text()[-3000:]}")

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def shutdown_kernels(self):
        "Delete every session (and so its kernel)."
        for s in self.api("api/sessions"):
            self.api(f"api/sessions/{s['id']}", method="DELETE")

    def stop(self):
        "Shut the kernels down and stop the server."
        try:
            if self.proc.poll() is None:
                self.shutdown_kernels()
        except OSError:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    _require_browser()
    t0 = time.time()
    server = Lab(tmp_path_factory.mktemp("lab"))
    print(f"\n[browser] JupyterLab on port {server.port} serving {server.root} (up in {time.time() - t0:.1f} s)")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    "Where the screenshots go: $AIMSTF_SCREENSHOTS, else a temporary folder."
    d = Path(os.environ["AIMSTF_SCREENSHOTS"]) if os.environ.get("AIMSTF_SCREENSHOTS") else \
        tmp_path_factory.mktemp("screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d


def save_png(png: bytes, path: Path) -> Path:
    "Write a screenshot; above MAX_PNG bytes it is re-encoded with a 256-colour palette."
    from PIL import Image
    if len(png) > MAX_PNG:
        buf = io.BytesIO()
        Image.open(io.BytesIO(png)).convert("RGB").quantize(256).save(buf, "PNG", optimize=True)
        png = buf.getvalue()
    path.write_bytes(png)
    print(f"[browser] screenshot {path} ({len(png) // 1024} KB)")
    return path


# ---------------------------------------------------------------- the notebook as JupyterLab sees it

_PANEL = """(name) => Array.from(window.jupyterapp.shell.widgets('main'))
                      .find(w => w.context && w.context.path === name)"""

STATE_JS = """(name) => {
  const panel = (%s)(name);
  if (!panel || !panel.context.isReady) return null;
  const kernel = panel.sessionContext.session ? panel.sessionContext.session.kernel : null;
  const cells = panel.content.model.cells, st = {kernel: kernel ? kernel.status : null, code: 0, counted: 0,
    uncounted: [], errors: [], stderr: []};
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    st.code++;
    if (c.executionCount) st.counted++; else st.uncounted.push(i);
    for (let j = 0; j < c.outputs.length; j++) {
      const o = c.outputs.get(j).toJSON();
      if (o.output_type === 'error') st.errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
      if (o.output_type === 'stream' && o.name === 'stderr') st.stderr.push(`cell ${i}: ` + [].concat(o.text).join(''));
    }
  }
  st.queued = Array.from(panel.content.node.querySelectorAll('.jp-InputPrompt'))
                   .filter(p => p.textContent.includes('*')).length;
  st.dom_errors = Array.from(panel.content.node.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
      .map(e => e.textContent).filter(t => %s.some(w => t.includes(w))).map(t => t.slice(0, 2000));
  return st;
}""" % (_PANEL, json.dumps(list(ERROR_WORDS)))


def nb_state(page, name):
    return page.evaluate(STATE_JS, name)


def wait_idle(page, name, timeout=RUN_TIMEOUT, settle=1.5, what="run"):
    "Wait until the kernel is idle and no cell is queued ('[*]'), stably for `settle` s; the final state."
    end, since = time.time() + timeout, None
    while time.time() < end:
        st = nb_state(page, name)
        quiet = st is not None and st["kernel"] == "idle" and st["queued"] == 0
        if quiet and since is None:
            since = time.time()
        elif not quiet:
            since = None
        if since is not None and time.time() - since >= settle:
            return st
        page.wait_for_timeout(250)
    raise AssertionError(f"{name}: {what} did not finish within {timeout} s; last state {nb_state(page, name)}")


CONSOLE = {}  # notebook name -> the browser console's error messages on its page (printed, not asserted)


def open_notebook(browser, lab, name):
    "A new page with `name` open, its kernel started and idle."
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    CONSOLE[name] = []
    page.on("console", lambda m: CONSOLE[name].append(m.text[:300]) if m.type == "error" else None)
    page.on("pageerror", lambda e: CONSOLE[name].append(f"page error: {str(e)[:300]}"))
    page.goto(lab.url(f"lab/tree/{name}?reset&token={lab.token}"))
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started", timeout=60_000)
    page.wait_for_function(f"() => {{ const p = ({_PANEL})({json.dumps(name)}); return p && p.context.isReady; }}",
                           timeout=60_000)
    end = time.time() + 60
    while time.time() < end:  # a kernel-selection dialog should not appear (kernelspec python3), accept it if it does
        dialog = page.locator(".jp-Dialog")
        if dialog.count():
            dialog.locator(".jp-mod-accept").first.click()
        st = nb_state(page, name)
        if st and st["kernel"] == "idle":
            return page
        page.wait_for_timeout(250)
    raise AssertionError(f"{name}: the kernel did not start within 60 s; state {nb_state(page, name)}")


def run_all(page, name) -> dict:
    "Run All on the open notebook; the state once the kernel is idle and nothing is queued."
    page.evaluate(f"""async () => {{ const app = window.jupyterapp, p = ({_PANEL})({json.dumps(name)});
                      app.shell.activateById(p.id); await app.commands.execute('notebook:run-all-cells'); }}""")
    page.wait_for_timeout(1000)
    return wait_idle(page, name)


def tidy(page, name):
    "For a screenshot: left sidebar closed, notifications dismissed, the last code cell scrolled into view."
    page.evaluate(f"""async () => {{ const app = window.jupyterapp, p = ({_PANEL})({json.dumps(name)});
        app.shell.collapseLeft();
        document.querySelectorAll('.jp-Notification-Toast-Close, .Toastify__close-button').forEach(b => b.click());
        const nb = p.content;
        let last = -1;
        for (let i = 0; i < nb.widgets.length; i++) if (nb.widgets[i].model.type === 'code') last = i;
        if (last >= 0) await nb.scrollToItem(last, 'end'); }}""")
    page.wait_for_timeout(750)


def check_run(name, st, seconds):
    print(f"[browser] {name}: Run All {seconds:.1f} s, {st['counted']}/{st['code']} code cells executed, "
          f"{len(st['errors'])} error outputs, {len(st['dom_errors'])} rendered stderr tracebacks, "
          f"{len(st['stderr'])} stderr outputs")
    for s in st["stderr"]:
        print(f"[browser]   stderr {s[:300]!r}")
    print(f"[browser] {name}: {len(CONSOLE.get(name, []))} browser console errors {CONSOLE.get(name, [])[:3]}")
    assert not st["errors"], f"{name}: error outputs after Run All: {st['errors']}"
    assert not st["dom_errors"], f"{name}: tracebacks rendered on stderr: {st['dom_errors']}"
    assert not st["uncounted"], f"{name}: code cells {st['uncounted']} have no execution count after Run All"


def run_notebook(browser, lab, name):
    "Open `name` in a new page and Run All: (page, final state, seconds)."
    t0 = time.time()
    page = open_notebook(browser, lab, name)
    print(f"[browser] {name}: page loaded and kernel idle in {time.time() - t0:.1f} s")
    t0 = time.time()
    st = run_all(page, name)
    seconds = time.time() - t0
    tidy(page, name)
    return page, st, seconds


@pytest.mark.parametrize("name", NOTEBOOKS[:2])
def test_notebook_runs(browser, lab, shots, name):
    page, st, seconds = run_notebook(browser, lab, name)
    try:
        save_png(page.screenshot(), shots / f"{Path(name).stem}_run_all.png")
        check_run(name, st, seconds)
    finally:
        page.close()
        lab.shutdown_kernels()


# ---------------------------------------------------------------- figures, widgets, Log Console

# BLANK, precisely: a figure is an `img` inside the explorer's widget box. Its "axes area" is the image
# without a band of MARGIN of its width on the left and right and of its height at the top and bottom
# (where the title, tick labels, axis labels, colour-bar labels and figure margins are). Its "ink" is the fraction
# of axes-area pixels that differ (by more than INK_DELTA on some RGB channel, 0-255) from both of the area's two
# most common colours (the figure background and one fill). The figure is blank when its ink is below MIN_INK:
# the area is one colour (or one colour on the background, e.g. a constant image) apart from thin lines such as
# an empty axes' frame and ticks (about 1 %). An image that did not load (no pixels) is blank too, and so is a
# figure missing from the view (fewer images than after Run All). Drawn figures score far above: EEG traces
# about 20 %, topomap, face frames and level heatmap 37-70 % (the lowest values seen are printed).
# `test_blank_rule` checks the rule on figures drawn here.
MARGIN, MIN_INK, INK_DELTA = 0.15, 0.02, 16


def ink_fraction(png: bytes) -> float:
    "Fraction of the axes-area pixels of `png` that are neither of the area's two most common colours (see BLANK)."
    from PIL import Image
    im = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    h, w = im.shape[:2]
    a = im[int(h * MARGIN):int(h * (1 - MARGIN)), int(w * MARGIN):int(w * (1 - MARGIN))].reshape(-1, 3)
    if a.size == 0:
        return 0.0
    colours, counts = np.unique(a, axis=0, return_counts=True)
    top = colours[np.argsort(counts)[::-1][:2]]
    far = np.min([np.abs(a - c).max(1) for c in top], axis=0) > INK_DELTA
    return float(far.mean())


IMAGES_JS = """(root) => Array.from(root.querySelectorAll('img')).map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0,
                                                                         w: i.naturalWidth, h: i.naturalHeight}))"""


def figure_images(explorer) -> list:
    "[(src, png bytes or None)] of the explorer's images; the bytes of an image that is not a loaded data URL are a screenshot."
    out = []
    imgs = explorer.evaluate(IMAGES_JS)
    for k, info in enumerate(imgs):
        png = None
        if info["ok"] and info["src"].startswith("data:image/png;base64,"):
            png = base64.b64decode(info["src"].split(",", 1)[1])
        elif info["ok"]:
            png = explorer.locator("img").nth(k).screenshot()
        out.append((info["src"], png))
    return out


def explorer_box(page):
    "The explorer's widget box: a widget VBox holding a dropdown and a slider."
    return page.locator(".jupyter-widgets.widget-vbox").filter(has=page.locator(".widget-dropdown")) \
               .filter(has=page.locator(".widget-slider")).first


def controls(explorer) -> dict:
    "The explorer's current selections as the browser shows them."
    return explorer.evaluate("""(root) => {
      const sel = Array.from(root.querySelectorAll('.widget-dropdown select'));
      const h = root.querySelector('.widget-slider .noUi-handle');
      return {dropdowns: sel.map(s => ({label: s.closest('.widget-dropdown').querySelector('label') ?
                                          s.closest('.widget-dropdown').querySelector('label').textContent : '',
                                        value: s.options[s.selectedIndex] ? s.options[s.selectedIndex].text : null,
                                        options: Array.from(s.options).map(o => o.text)})),
              second: h ? Number(h.getAttribute('aria-valuenow')) : null,
              second_max: h ? Number(h.getAttribute('aria-valuemax')) : null,
              second_min: h ? Number(h.getAttribute('aria-valuemin')) : null,
              text: Array.from(root.querySelectorAll('.widget-html, .widget-htmlmath')).map(e => e.textContent).join(' ')};
    }""")


def log_console_entries(page, name) -> list:
    "The texts of JupyterLab's Log Console entries for notebook `name` (opened with `logconsole:open`)."
    page.evaluate(f"""async () => {{ const app = window.jupyterapp, p = ({_PANEL})({json.dumps(name)});
        app.shell.activateById(p.id); await app.commands.execute('logconsole:open', {{source: p.context.path}}); }}""")
    page.wait_for_selector(".jp-LogConsolePanel", timeout=15_000)
    page.wait_for_timeout(1000)
    return page.evaluate("""() => Array.from(document.querySelectorAll('.jp-LogConsolePanel .jp-OutputArea-child'))
                                   .map(e => e.textContent.slice(0, 500))""")


VIEW_JS = """(root, name) => {
  const panel = (%s)(name), s = panel.sessionContext.session, k = s ? s.kernel : null;
  return {kernel: k ? k.status : null, imgs: (%s)(root)};
}""" % (_PANEL, IMAGES_JS)


def settle_view(page, name, explorer, before: set, timeout: float = 90) -> list:
    """After a change: wait until, twice in a row 0.2 s apart, the kernel is idle, the explorer's images are all
    loaded and are not the set shown before the change (`before`: their sources), and the explorer's text names
    the selected trial and second. The kernel is busy while it redraws and reports idle only after the redraw's
    outputs, so this is the view of the new selection, complete. Returns `figure_images`."""
    end, hits = time.time() + timeout, 0
    while time.time() < end:
        v = explorer.evaluate(VIEW_JS, name)
        ok = v["kernel"] == "idle" and v["imgs"] and all(i["ok"] for i in v["imgs"]) and \
            {i["src"] for i in v["imgs"]} != before
        if ok:
            c = controls(explorer)
            trial = next((d["value"] for d in c["dropdowns"] if d["label"].strip() == "trial"), None)
            ok = "trial " not in c["text"] or f"trial {trial}, second {c['second']}" in c["text"]
        hits = hits + 1 if ok else 0
        if hits >= 2:
            return figure_images(explorer)
        page.wait_for_timeout(200)
    raise AssertionError(f"{name}: the explorer's view did not update within {timeout} s after a change: "
                         f"controls {controls(explorer)}, {len(explorer.evaluate(IMAGES_JS))} images")


def step_slider(page, explorer, direction: int) -> int:
    "Move the slider one step with the keyboard (ArrowRight/ArrowLeft on its handle); the direction used."
    c = controls(explorer)
    if c["second"] + direction > c["second_max"] or c["second"] + direction < c["second_min"]:
        direction = -direction
    handle = explorer.locator(".widget-slider .noUi-handle").first
    handle.focus()
    handle.press("ArrowRight" if direction > 0 else "ArrowLeft")
    return direction


def next_trial(explorer):
    "Select the next trial (cyclically) in the explorer's trial dropdown."
    c = controls(explorer)
    k = next(k for k, d in enumerate(c["dropdowns"]) if d["label"].strip() == "trial")
    opts = c["dropdowns"][k]["options"]
    new = opts[(opts.index(c["dropdowns"][k]["value"]) + 1) % len(opts)]
    explorer.locator(".widget-dropdown select").nth(k).select_option(label=new)


PROBE = ("import ipywidgets as W\n"
         "s = W.IntSlider(min=0, max=3, description='second')\n"
         "s.observe(lambda change: print('probe: second', change['new']), names='value')\n"
         "W.VBox([W.HBox([W.Dropdown(options=[1, 2], description='trial'), s])])")


def test_blank_rule():
    "The BLANK rule on figures drawn here: empty axes and a one-colour image are blank, traces are not."
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    def png(draw) -> bytes:
        fig = Figure(figsize=(4, 3))
        ax = fig.add_subplot()
        ax.set_title("a title"); ax.set_xlabel("s")
        draw(ax)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
        return buf.getvalue()

    t = np.linspace(0, 1, 128)
    assert ink_fraction(png(lambda ax: None)) < MIN_INK
    assert ink_fraction(png(lambda ax: ax.imshow(np.ones((8, 8)), cmap="viridis", vmin=0, vmax=2))) < MIN_INK
    traces = ink_fraction(png(lambda ax: [ax.plot(t, np.sin(9 * t + k) - 2 * k, lw=0.6) for k in range(8)]))
    assert traces > 2 * MIN_INK, traces


def test_harness_sees_log_entries(browser, lab):
    """Self-check of the harness: a widget callback that prints outside an Output widget lands in the Log Console,
    and `step_slider` / `log_console_entries` see it (so the explorer's count of 0 below means something)."""
    import nbformat
    name = "_browser_probe.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE)])
    nb.metadata["kernelspec"] = {"display_name": "python3", "language": "python", "name": "python3"}
    nbformat.write(nb, lab.root / name)
    page = open_notebook(browser, lab, name)
    try:
        run_all(page, name)
        box = explorer_box(page)
        box.wait_for(timeout=30_000)
        step_slider(page, box, +1)
        wait_idle(page, name, timeout=30, what="the probe's widget change")
        entries = log_console_entries(page, name)
        print(f"[browser] probe: slider at {controls(box)['second']}, Log Console entries {entries}")
        assert controls(box)["second"] == 1 and any("probe: second 1" in e for e in entries), entries
    finally:
        page.close()
        lab.shutdown_kernels()


def show_whole(page, box):
    "Make the window tall enough for all of `box` (the explorer's figures run past the first screen) and scroll to it."
    page.set_viewport_size({"width": 1400, "height": int(min(4000, box.bounding_box()["height"] + 400))})
    page.wait_for_timeout(750)
    box.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(500)


def test_explorer(browser, lab, shots):
    name = "31_explorer.ipynb"
    page, st, seconds = run_notebook(browser, lab, name)
    try:
        check_run(name, st, seconds)
        texts = page.evaluate("() => Array.from(document.querySelectorAll('.jp-OutputArea-output')).map(e => e.textContent)")
        as_text = [t[:200] for t in texts if "children=(" in t or "Error displaying widget" in t]
        assert not as_text, f"{name}: widgets shown as text or failing to display: {as_text}"
        explorer = explorer_box(page)
        assert explorer.count(), (f"{name}: no explorer widget (a .jupyter-widgets VBox with .widget-dropdown and "
                                  ".widget-slider) in the notebook after Run All")
        show_whole(page, explorer)  # JupyterLab with all of the explorer: topomap, faces, level weights
        save_png(page.screenshot(), shots / "31_explorer_run_all.png")
        c = controls(explorer)
        assert {d["label"].strip() for d in c["dropdowns"]} >= {"subject", "trial"} and c["second"] is not None, c
        shown = figure_images(explorer)
        n_figs = len(shown)
        assert n_figs >= 1 and all(p is not None for _, p in shown), f"{name}: the explorer shows no figure: {c}"
        print(f"[browser] explorer: {n_figs} figures, controls {c['dropdowns']}, second {c['second']} of "
              f"{c['second_min']}..{c['second_max']}; text {c['text'][:160]!r}")
        first_blank = sum(ink_fraction(p) < MIN_INK for _, p in shown)
        assert not first_blank, f"{name}: {first_blank} of the explorer's {n_figs} figures are blank after Run All"
        log_at = len(lab.log_text())

        # one change: the view must update (a new set of images, the text naming the new selection)
        direction = step_slider(page, explorer, +1)
        shown = settle_view(page, name, explorer, {s for s, _ in shown})

        # 20 more consecutive changes: slider steps, every 4th a new trial
        blank, inks, t0 = 0, [], time.time()
        for k in range(N_CHANGES):
            before = {s for s, _ in shown}
            if k % 4 == 3:
                next_trial(explorer)
            else:
                direction = step_slider(page, explorer, direction)
            shown = settle_view(page, name, explorer, before)
            fr = [0.0 if p is None else ink_fraction(p) for _, p in shown]
            blank += sum(f < MIN_INK for f in fr) + max(0, n_figs - len(fr))
            inks.append(fr)
        t20, t0 = time.time() - t0, time.time()
        # then a burst: 5 trial changes without waiting in between (as a quick user would), and the final view
        before = {s for s, _ in shown}
        for _ in range(5):
            next_trial(explorer)
        shown = settle_view(page, name, explorer, before)
        burst_blank = sum((0.0 if p is None else ink_fraction(p)) < MIN_INK for _, p in shown) + \
            max(0, n_figs - len(shown))
        lows = np.min(inks, axis=0) if inks and len({len(i) for i in inks}) == 1 else None
        print(f"[browser] explorer: {N_CHANGES} changes in {t20:.1f} s, blank figures {blank}; "
              f"lowest ink fraction per figure {None if lows is None else np.round(lows, 3).tolist()}; "
              f"after a burst of 5 quick trial changes ({time.time() - t0:.1f} s): {burst_blank} blank")
        show_whole(page, explorer)
        save_png(explorer.screenshot(), shots / "31_explorer_after_changes.png")
        entries = log_console_entries(page, name)
        server = lab.log_text()[log_at:]
        tracebacks = server.count("Traceback")
        print(f"[browser] Log Console entries for {name}: {len(entries)}; tracebacks in the server log during "
              f"the changes: {tracebacks}")
        for e in entries[:5]:
            print(f"[browser]   log {e[:300]!r}")
        assert blank == 0, f"{name}: {blank} blank figures over {N_CHANGES} widget changes"
        assert burst_blank == 0, f"{name}: {burst_blank} blank figures after 5 quick widget changes"
        assert not entries, f"{name}: the Log Console holds {len(entries)} entries: {entries[:3]}"
        assert not tracebacks, f"{name}: the kernel wrote tracebacks during the widget changes:\n{server[-3000:]}"
    finally:
        page.close()
        lab.shutdown_kernels()
