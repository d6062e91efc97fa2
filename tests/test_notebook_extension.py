"""The notebook extension (`%load_ext lab01_utils.notebook`) in a real Jupyter kernel: a stub
is a notice and the cell counts as run; a later cell that needs what it did not compute says
which name and which exercise; anything else is an error with IPython's own traceback, which
points at the line that raised."""

from __future__ import annotations

import re

import nbclient
import nbformat
import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _run(*cells: str, allow_errors: bool = False):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in ("%load_ext lab01_utils.notebook", *cells)]
    nbclient.NotebookClient(nb, kernel_name="python3", allow_errors=allow_errors).execute()
    return nb.cells[1:]


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs)


def _errors(cell) -> list[str]:
    return [
        "\n".join(ANSI.sub("", line) for line in o.traceback)
        for o in cell.outputs
        if o.output_type == "error"
    ]


def test_stubs_are_notices_and_the_cells_count_as_run():
    # allow_errors=False: nbclient raises on a cell whose run the kernel reports as an error.
    stub, needs, question, value, required = _run(
        'raise NotImplementedError("Exercise 1.1: SiLU forward")',
        "y = 2\nprint(silu_output)",
        'raise NotImplementedError("Question 3.3: multiply-adds")',
        "1 + 1",
        # A check cell: the check's report says where to write it; the notice is one line.
        "from lab01_utils import checks, nn\n"
        "class Stub(nn.SiLU):\n"
        "    def forward(self, x):\n"
        '        raise NotImplementedError("Exercise 1.1: SiLU forward")\n'
        "checks.check_silu_forward(silu_cls=Stub).require()",
    )
    assert "[Exercise 1.1 (SiLU forward) is not written yet" in _text(stub)
    assert "lab01_utils/nn/activation.py" in _text(stub)
    assert _text(needs).startswith("[This cell waits for Exercise 1.1: it uses `silu_output`")
    assert "If you skipped cells, run the cells above this one in order." in _text(needs)
    assert "[Question 3.3 is yours to answer" in _text(question)
    assert value.outputs[0]["data"]["text/plain"] == "2"  # a last expression still shows
    assert "Exercise 1.1 (SiLU forward): not implemented yet" in _text(required)
    assert _text(required).endswith("[This cell stops here; the notebook goes on without it.]\n")
    assert not any(_errors(c) for c in (stub, needs, question, value, required))


def test_an_error_keeps_its_traceback_at_the_line_that_raised():
    cells = _run(
        "a = 1\nb = 2\nc = 3\nassert a == b, 'line 4'\nd = 4",
        "x = 1\n\ny = undefined_name\nz = 3",
        "import numpy as np\nnp.zeros(2) + np.zeros(3)\n",
        "v = 1\nv / 0",
        allow_errors=True,
    )
    for cell, line, code in zip(
        cells,
        (4, 3, 2, 2),
        ("assert a == b", "y = undefined_name", "np.zeros(2) + np.zeros(3)", "v / 0"),
        strict=True,
    ):
        (tb,) = _errors(cell)
        assert re.search(rf"Cell In\[\d+\], line {line}\b", tb), tb
        assert re.search(rf"----> {line} {re.escape(code)}", tb), tb
        assert "lab01_utils" not in tb  # no frame of the extension's own


def test_a_failing_check_stops_with_one_line_and_no_traceback():
    with pytest.raises(nbclient.exceptions.CellExecutionError):
        _run("from lab01_utils.checks import CheckFailed\nraise CheckFailed('Exercise 2.2 fails')")
    (cell,) = _run(
        "from lab01_utils.checks import CheckFailed\nraise CheckFailed('Exercise 2.2 fails')",
        allow_errors=True,
    )
    assert _text(cell) == "[Exercise 2.2 fails]\n"
    assert not _errors(cell)
