"""The step-by-step notebook runs from top to bottom without an error.

The notebook is executed in memory (the committed file, with its outputs, is left alone) by
nbclient, in a kernel started from this interpreter: jupyter_client runs the ``python3``
kernel with ``sys.executable``, so the notebook sees the same environment as the tests. Any
cell that raises, including the notebook's own checks (loops against the library, gradient
checks, the test accuracy), fails the test with that cell's traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "cnn_from_scratch.ipynb"
CELL_TIMEOUT_S = 600  # the longest cell trains for a minute or two on a busy CI machine


def test_notebook_runs_clean() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert notebook.metadata.kernelspec.name == "python3"
    # One extra cell at the end reports the kernel's interpreter.
    notebook.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
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


def test_notebook_is_committed_with_outputs() -> None:
    """The committed notebook reads well on a code host: every code cell was run, in order."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    counts = [cell.execution_count for cell in code_cells]
    assert counts == list(range(1, len(code_cells) + 1)), "run the notebook top to bottom"
    images = sum(
        "image/png" in output.get("data", {}) for cell in code_cells for output in cell.outputs
    )
    assert images >= 10, "the figures are missing from the committed notebook"
    assert not any(output.output_type == "error" for cell in code_cells for output in cell.outputs)
