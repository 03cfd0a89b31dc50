"""The step-by-step notebook runs from top to bottom without an error, and the committed
notebook is its source, run.

The notebook's source is notebooks/cnn_from_scratch.py, a Python file in jupytext's percent
format; the committed cnn_from_scratch.ipynb is generated from it and keeps its outputs (see
notebooks/README.md). The source is converted in memory and executed by nbclient, in a kernel
started from this interpreter: jupyter_client runs the ``python3`` kernel with
``sys.executable``, so the notebook sees the same environment as the tests. Any cell that
raises, including the notebook's own checks (loops against the library, gradient checks, the
test accuracy), fails the test with that cell's traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
SOURCE = NOTEBOOKS / "cnn_from_scratch.py"
NOTEBOOK = NOTEBOOKS / "cnn_from_scratch.ipynb"
CELL_TIMEOUT_S = 600  # the longest cell trains for a minute or two on a busy CI machine


def test_notebook_runs_clean() -> None:
    notebook = jupytext.read(SOURCE)
    assert notebook.metadata.kernelspec.name == "python3"
    # One extra cell at the end reports the kernel's interpreter.
    notebook.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell

    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors
    kernel_python = notebook.cells[-1].outputs[0].text.strip()
    assert Path(kernel_python).resolve() == Path(sys.executable).resolve()


def test_the_committed_notebook_has_the_cells_of_its_source() -> None:
    """Edited the .py without regenerating the .ipynb (or the other way round)? The first
    cell that differs is named; regenerate as notebooks/README.md says."""
    source = [(cell.cell_type, cell.source) for cell in jupytext.read(SOURCE).cells]
    committed = [
        (cell.cell_type, cell.source) for cell in nbformat.read(NOTEBOOK, as_version=4).cells
    ]
    for index, (expected, found) in enumerate(zip(source, committed, strict=False)):
        assert found == expected, f"cell {index} of {NOTEBOOK.name} differs from {SOURCE.name}"
    assert len(committed) == len(source), f"{NOTEBOOK.name} has other cells than {SOURCE.name}"


def test_notebook_is_committed_with_outputs() -> None:
    """The committed notebook reads well on a code host: every code cell was run, in order."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    counts = [cell.execution_count for cell in code_cells]
    assert counts == list(range(1, len(code_cells) + 1)), "run the notebook top to bottom"
    images = sum(
        "image/png" in output.get("data", {}) for cell in code_cells for output in cell.outputs
    )
    assert images >= 10, "the figures are missing from the committed notebook"
    assert not any(output.output_type == "error" for cell in code_cells for output in cell.outputs)
