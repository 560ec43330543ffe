"""Run notebooks top to bottom and keep the outputs a reader on GitHub should see.

    python tools/keep_outputs.py nbs/07_splits.ipynb [more notebooks]   # then: nbdev_clean

Cells marked `#| slow` (or `#| eval: false`) are not run. Kept: figures, tables, printed text and
values. Dropped: anything written to stderr (progress bars, warnings), widget views (their text
form is kept), and any single output over 300 kB. PNG figures over 60 kB are stored with a
256-colour palette (and, if still large, at a smaller size), so notebooks stay small. Execution
counts and metadata are left to `nbdev_clean`.
"""
import base64
import io
import re
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ExecutePreprocessor

SKIP = re.compile(r"^\s*#\s*\|\s*(slow|eval:\s*false)\b", re.M)
MAX_BYTES = 300_000
WIDGET = "application/vnd.jupyter.widget-view+json"


class SkippingExecutor(ExecutePreprocessor):
    "Executes every code cell except those marked `#| slow` or `#| eval: false`."

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and SKIP.search(cell.source):
            cell.outputs = []
            return cell, resources
        return super().preprocess_cell(cell, resources, index)


def shrink_png(b64: str, limit: int = 60_000) -> str:
    "A base64 PNG re-encoded with a 256-colour palette, then halved in size until under `limit` bytes (or tiny)."
    from PIL import Image
    raw = base64.b64decode(b64)
    if len(raw) <= limit:
        return b64
    im = Image.open(io.BytesIO(raw)).convert("RGB")
    while True:
        buf = io.BytesIO()
        im.quantize(256).save(buf, "PNG", optimize=True)
        if buf.tell() <= limit or min(im.size) < 200:
            return base64.b64encode(buf.getvalue()).decode()
        im = im.resize((int(im.width * 0.75), int(im.height * 0.75)), Image.LANCZOS)


def keep(output) -> bool:
    "Whether one output is worth keeping in the committed notebook."
    if output.get("output_type") == "stream" and output.get("name") == "stderr":
        return False
    data = output.get("data", {})
    if "image/png" in data:
        data["image/png"] = shrink_png(data["image/png"])
    if WIDGET in data:
        data.pop(WIDGET)
        if not data:
            return False
    return len(str(output)) <= MAX_BYTES


def run(path: Path, execute: bool = True) -> None:
    nb = nbformat.read(path, as_version=4)
    if execute:
        SkippingExecutor(timeout=1200, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(path.parent)}})
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if keep(o)]
    nbformat.write(nb, path)


if __name__ == "__main__":
    shrink_only = "--shrink-only" in sys.argv  # re-filter the outputs already there, without running
    for p in [a for a in sys.argv[1:] if not a.startswith("--")]:
        print(p, flush=True)
        run(Path(p), execute=not shrink_only)
