"""Copy the committed benchmark outputs into README's source (nbs/index.ipynb), then regenerate README.md.

    python tools/sync_readme.py                         # learning.md, ablation.md and demo.md from benchmarks/results
    python tools/sync_readme.py --demo aimstf_demo      # first copy a demo run's demo.md and results.png there

Each table goes between its markers (`<!-- learning:start -->` ... `<!-- learning:end -->`, same for `demo`)
in nbs/index.ipynb; tests/test_hygiene.py checks that README.md holds exactly the committed files' text.
"""
import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BLOCKS = {"learning": ("learning.md", "learning.png"), "demo": ("demo.md", "demo.png"),
          "ablation": ("ablation.md", "ablation.png")}


def block(name: str) -> str:
    "The text README holds between the markers of `name`: the committed table and its figure."
    md, png = BLOCKS[name]
    if not (RESULTS / md).exists():
        return f"(no `benchmarks/results/{md}` committed yet)\n"
    text = (RESULTS / md).read_text().strip() + "\n"
    if (RESULTS / png).exists():
        text += f"\n![{name} results](benchmarks/results/{png})\n"
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", type=Path, default=None, help="a finished `aimstf demo --out` folder to copy first")
    a = ap.parse_args(argv)
    if a.demo is not None:
        shutil.copy(a.demo / "demo.md", RESULTS / "demo.md")
        shutil.copy(a.demo / "results.png", RESULTS / "demo.png")
    nb_path = ROOT / "nbs" / "index.ipynb"
    nb = json.loads(nb_path.read_text())
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        for name in BLOCKS:
            pat = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
            src = pat.sub(lambda m: m.group(1) + block(name) + m.group(2), src)
        lines = src.split("\n")
        cell["source"] = [l + "\n" for l in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "markdown", str(nb_path), "--output-dir",
                    str(ROOT), "--output", "README"], check=True, capture_output=True)
    print("README.md regenerated from nbs/index.ipynb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
