"""The tutorial executes from top to bottom (so it never rots), and the executed notebook shipped
beside it is the same notebook."""
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
TUTORIAL = DOCS / "tutorial.py"
NOTEBOOK = DOCS / "tutorial.ipynb"


def _images(notebook) -> int:
    """Figures shown: PNG outputs and the PNGs inside Results' HTML display."""
    count = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            count += ("image/png" in data) + data.get("text/html", "").count("<img ")
    return count


def test_shipped_notebook_is_the_executed_tutorial():
    jupytext = pytest.importorskip("jupytext")
    nbformat = pytest.importorskip("nbformat")
    source = jupytext.read(TUTORIAL)
    shipped = nbformat.read(NOTEBOOK, as_version=4)
    assert [(c.cell_type, c.source) for c in shipped.cells] == \
        [(c.cell_type, c.source) for c in source.cells], \
        "docs/tutorial.ipynb is out of date: run `make notebook`"
    code = [c for c in shipped.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "docs/tutorial.ipynb is not executed"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert _images(shipped) >= 30


@pytest.mark.slow
def test_tutorial_executes(tmp_path):
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    notebook = jupytext.read(TUTORIAL)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code"
               for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert _images(notebook) >= 30  # the experiments' figures are displayed inline
