"""The tour notebook: stored with its outputs (figures for readers browsing the repository),
and re-executed here from top to bottom, so it cannot rot, with ``MPLBACKEND=Agg`` in the
kernel's environment (its first cell asks for the inline backend)."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "hsmix_tour.ipynb"


def _figure_cells(nb) -> list[int]:
    return [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and any("image/png" in o.get("data", {}) for o in c.outputs)
    ]


def test_tour_notebook_is_stored_with_outputs_and_executes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Agg is what clusters and CI machines often export; the notebook must still draw.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("kornia", reason="the tour's kornia section needs the kornia extra")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    stored_figures = _figure_cells(nb)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    assert len(stored_figures) >= 4  # mixing, lambda maps, backends, kornia
    assert all(nb.cells[i].outputs for i in code)  # every cell ran before it was stored
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    outputs = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "pasted fraction" in outputs and "step 3: loss" in outputs
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert _figure_cells(nb) == stored_figures  # the stored figures are the cells' figures
