"""tools/build_docs.py: the documentation site builder (nbdev directives, execution errors, broken links).

Builds tiny synthetic notebooks in tmp_path (not the project's, which take minutes): one good site, one whose
cell raises (the message must name the notebook and cell), one with a broken link (Sphinx must fail)."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "build_docs.py"
_spec = importlib.util.spec_from_file_location("build_docs", TOOL)
bd = sys.modules["build_docs"] = importlib.util.module_from_spec(_spec)  # the worker processes unpickle its functions
_spec.loader.exec_module(bd)

pytest.importorskip("myst_nb")
pytest.importorskip("nbclient")

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def _nb(path, *cells):
    "Write a notebook of ('md' | 'code', source) cells."
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"display_name": "python3", "language": "python",
                                                           "name": "python3"}})
    nb.cells = [nbformat.v4.new_markdown_cell(s) if k == "md" else nbformat.v4.new_code_cell(s) for k, s in cells]
    nbformat.write(nb, path)


def _repo(tmp_path, *chapter_cells):
    "A tiny nbdev-like repository: settings.ini, a file and an image outside nbs/, index + one chapter."
    repo = tmp_path / "repo"
    (repo / "nbs").mkdir(parents=True)
    (repo / "settings.ini").write_text("[DEFAULT]\ntst_flags = slow\n")
    (repo / "files").mkdir()
    (repo / "files" / "data.txt").write_text("numbers\n")
    (repo / "pic.png").write_bytes(PNG)
    _nb(repo / "nbs" / "index.ipynb",
        ("md", "# Home page\n\nRead [the chapter](01_a.ipynb); ![a picture](pic.png); [the data](files/data.txt)."),
        ("code", "#| hide\nHOME = 'home'"))
    _nb(repo / "nbs" / "01_a.ipynb", ("md", "# Chapter A\n\nBack to [the home page](index.ipynb)."), *chapter_cells)
    return repo


def _build(repo, out):
    env = dict(os.environ, MPLBACKEND="Agg")  # CI's setting: the builder must still store the figures
    # --jobs 1: the two notebooks run one after the other (a second notebook must not inherit the first's state)
    return subprocess.run([sys.executable, str(TOOL), "--nbs", str(repo / "nbs"), "--out", str(out), "--jobs", "1",
                           "--timeout", "120"], capture_output=True, text=True, env=env, timeout=300)


def test_split_directives():
    assert bd.split_directives("#| export\n#|hide\n\nx = 1\n#| not a directive") == (
        {"export": [], "hide": []}, "x = 1\n#| not a directive")
    assert bd.split_directives("#| eval: false\nf()")[0] == {"eval": ["false"]}
    assert bd.split_directives("#| default_exp models.eeg") == ({"default_exp": ["models.eeg"]}, "")


def test_a_site_from_nbdev_notebooks(tmp_path):
    repo = _repo(tmp_path,
                 ("code", "#| hide\nimport tempfile\nHIDDEN_VALUE = 41"),
                 ("code", "#| default_exp a"),
                 ("code", "#| export\ndef answer():\n    'The answer.'\n    return HIDDEN_VALUE + 1\n"
                          "'a string output'"),
                 ("code", "#| slow\nraise RuntimeError('the slow cell ran')"),
                 ("code", "#| eval: false\nraise RuntimeError('an eval-false cell ran')"),
                 ("code", "import matplotlib.pyplot as plt\nplt.plot([0, 1])\nprint('result', answer())"),
                 ("code", "print('scratch in', tempfile.gettempdir())"),
                 ("code", "#| hide\nimport nbdev; nbdev.nbdev_export()"))
    out = tmp_path / "out"
    r = _build(repo, out)
    assert r.returncode == 0, r.stderr + r.stdout
    page = (out / "html" / "01_a.html").read_text()
    assert "result 42" in page and "def" in page and "answer" in page  # export code shown, run
    assert "HIDDEN_VALUE = 41" not in page and "nbdev_export" not in page  # hide: run, not shown
    assert "#|" not in page and "default_exp" not in page
    assert page.count("a string output") == 1  # in the code; an export cell's output is not shown
    assert "the slow cell ran" not in page  # slow: dropped
    assert "an eval-false cell ran" in page  # shown, not run (else the build would fail)
    assert "<img" in page and list((out / "html" / "_images").glob("*.png"))  # figure stored despite Agg
    assert str(out / "tmp") in page and not (out / "tmp").exists()  # scratch under the build, then deleted
    home = (out / "html" / "index.html").read_text()
    assert 'href="01_a.html"' in home and "Chapter A" in home  # toctree with the title
    assert "HOME = " not in home and "_images/" in home  # the repo image copied into the site
    assert list((out / "html" / "_downloads").rglob("data.txt"))  # a linked repo file: a download


def test_a_failing_cell_is_named(tmp_path):
    repo = _repo(tmp_path, ("code", "x = 1"), ("md", "text"), ("code", "#| hide\nraise ValueError('planted failure')"))
    with pytest.raises(bd.BuildError) as e:
        bd.build(repo / "nbs", tmp_path / "out", jobs=2, timeout=120, log=lambda *a: None)
    assert "nbs/01_a.ipynb, cell 3" in str(e.value) and "ValueError: planted failure" in str(e.value), str(e.value)


def test_a_broken_link_fails(tmp_path):
    repo = _repo(tmp_path, ("md", "See [a chapter that does not exist](02_missing.ipynb)."))
    with pytest.raises(bd.BuildError) as e:
        bd.build(repo / "nbs", tmp_path / "out", jobs=2, timeout=120, log=lambda *a: None)
    msg = str(e.value)
    assert "Sphinx failed" in msg and "01_a" in msg and "02_missing" in msg, msg


def test_check_links(tmp_path):
    (tmp_path / "a.html").write_text('<h1 id="top">A</h1><a href="b.html#sec">ok</a><a href="#top">ok</a>'
                                     '<img src="img/x.png"><a href="https://example.org/x">external</a>')
    (tmp_path / "b.html").write_text('<h2 id="sec">B</h2><a href="a.html#nowhere">bad anchor</a>'
                                     '<a href="missing.html">bad file</a>')
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "x.png").write_bytes(PNG)
    assert sorted(bd.check_links(tmp_path)) == [
        "b.html: a.html#nowhere (no id 'nowhere' in that page)", "b.html: missing.html (no such file)"]
