"""``nanocnn gradcheck``: a table of relative errors for every layer and loss, PASS or FAIL."""

from __future__ import annotations

import pytest

import nanocnn as nc
from nanocnn import losses
from nanocnn.cli import main
from nanocnn.gradcheck import DENSE_GRID, LAYER_GRID, LOSS_GRID, LOSSES
from nanocnn.layers import LAYER_TYPES


def test_the_grid_covers_every_layer_and_loss_type():
    assert {kind for kind, _, _ in LAYER_GRID} == set(LAYER_TYPES)
    public_losses = {
        name
        for name, value in vars(losses).items()
        if isinstance(value, type) and issubclass(value, losses.Loss)
        and value is not losses.Loss and not name.startswith("_")
    }  # fmt: skip
    assert set(LOSSES) == public_losses


def test_every_check_passes(capsys):
    assert main(["gradcheck"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines[1:] if line.endswith(("PASS", "FAIL"))]
    assert len(rows) == len(LAYER_GRID) + len(LOSS_GRID)
    assert all(row.endswith("PASS") for row in rows)
    for kind in (*LAYER_TYPES, *LOSSES):
        assert any(row.startswith(f"{kind}(") for row in rows), kind
    assert lines[0].split() == ["layer", "input", "x", "weight", "bias", "result"]
    assert lines[-1] == f"{len(rows)}/{len(rows)} passed (tolerance 1e-06)"
    errors = [float(cell) for row in rows for cell in row.split()[-4:-1] if cell != "-"]
    assert max(errors) < 1e-6


def test_a_broken_layer_fails_with_exit_status_1(capsys, monkeypatch):
    right_backward = nc.ReLU.backward
    monkeypatch.setattr(nc.ReLU, "backward", lambda self, dout: right_backward(self, dout) * 1.01)
    assert main(["gradcheck", "--layer", "ReLU", "--layer", "Dense"]) == 1
    lines = capsys.readouterr().out.splitlines()
    relu = [line for line in lines if line.startswith("ReLU(")]
    assert len(relu) == 1 and relu[0].endswith("FAIL")
    assert float(relu[0].split()[-4]) > 1e-3
    dense_rows = 2 * len(DENSE_GRID)  # with and without bias
    assert sum(line.startswith("Dense(") for line in lines) == dense_rows
    assert lines[-1] == f"{dense_rows}/{dense_rows + 1} passed, 1 FAILED (tolerance 1e-06)"


def test_the_tolerance_is_an_option(capsys):
    assert main(["gradcheck", "--layer", "Sigmoid", "--tolerance", "1e-30"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "0/1 passed, 1 FAILED (tolerance 1e-30)"


@pytest.mark.parametrize("argv", [["--layer", "Conv3D"], ["--tolerance", "-1"]])
def test_bad_options_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["gradcheck", *argv])
    assert exit_.value.code == 2
    assert "nanocnn gradcheck: error:" in capsys.readouterr().err
