"""Run notebooks top to bottom and keep the outputs a reader on GitHub should see.

    python tools/keep_outputs.py nbs/07_splits.ipynb [more notebooks]   # then: nbdev_clean

Cells marked `#| slow` (or `#| eval: false`) are not run. Kept: figures, tables, printed text and
values. Dropped: anything written to stderr (progress bars, warnings), widget views (their text
form is kept), and any single output over 300 kB. Execution counts and metadata are left to
`nbdev_clean`.
"""
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


def keep(output) -> bool:
    "Whether one output is worth keeping in the committed notebook."
    if output.get("output_type") == "stream" and output.get("name") == "stderr":
        return False
    data = output.get("data", {})
    if WIDGET in data:
        data.pop(WIDGET)
        if not data:
            return False
    return len(str(output)) <= MAX_BYTES


def run(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    SkippingExecutor(timeout=1200, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(path.parent)}})
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if keep(o)]
    nbformat.write(nb, path)


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(p, flush=True)
        run(Path(p))
