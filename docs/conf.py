"""Sphinx configuration of the aimstf_kit site; `python tools/build_docs.py` builds it (see that file).

The source folder is the build's copy of the executed notebooks (docs/_build/nbs); myst-nb renders their stored
outputs and executes nothing."""
import configparser
from pathlib import Path

_ini = configparser.ConfigParser()
_ini.read(Path(__file__).resolve().parents[1] / "settings.ini", encoding="utf-8")
_s = _ini["DEFAULT"]

project = _s.get("title", "aimstf_kit")
author = _s.get("author", "")
copyright = _s.get("copyright", "")
version = release = _s.get("version", "")

extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["_repo/**", "**.ipynb_checkpoints"]
nb_execution_mode = "off"          # the builder executed every notebook once already
nb_output_stderr = "show"
nb_merge_streams = True
myst_heading_anchors = 3           # [text](07_splits.ipynb#a-heading) links resolve
myst_enable_extensions = ["dollarmath"]
suppress_warnings = []

html_theme = "alabaster"
html_title = project
html_copy_source = False           # no _sources/ copies of the notebooks: keeps the site small
html_show_sourcelink = False
html_theme_options = {"description": _s.get("description", ""), "page_width": "1100px",
                      "sidebar_width": "260px"}
html_sidebars = {"**": ["about.html", "navigation.html", "searchbox.html"]}
