"""The 82 reference cells equal the supplement, parsed here independently from its text."""

import json
import re

import pytest

from vdi_core.cli import main

from conftest import SUPPLEMENT


def _supplement_tables():
    if not SUPPLEMENT.is_file():
        pytest.skip(f"supplement not found at {SUPPLEMENT} (a fresh clone has no ../shared)")
    text = SUPPLEMENT.read_text(encoding="utf-8")
    tables = {}
    # Each table is the block of tab-separated lines right before its "Table N." caption.
    for n in range(1, 7):
        cap = text.index(f"Table {n}.")
        block = text[:cap].rstrip().split("\n\n")[-1]
        tables[n] = [ln.split("\t") for ln in block.strip().split("\n")]
    return tables


def _num(cell):
    m = re.fullmatch(r"(<b>)?([0-9.]+)(</b>)?", cell.strip())
    return (float(m.group(2)), bool(m.group(1))) if m else None


def _cells_in_paper_order(rows, first_metric_col):
    out = []
    for r in rows[1:]:
        out += [_num(c) for c in r[first_metric_col:]]
    return out


@pytest.fixture(scope="module")
def refs(capsys_module=None):
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["refs", "--json"]) == 0
    return json.loads(buf.getvalue())


def test_exactly_82_cells(refs):
    assert len(refs) == 82
    assert {tuple(sorted(c)) for c in refs} == {("bold", "metric", "row", "table", "value")}


def test_cells_equal_the_supplement(refs):
    paper = _supplement_tables()
    by_table = {}
    for c in refs:
        by_table.setdefault(c["table"], []).append((c["value"], c["bold"]))
    # Table 1 is printed transposed (scores as rows, negative types as columns).
    t1 = paper[1]
    transposed = [_num(t1[s][t]) for t in range(1, 5) for s in range(1, 4)]
    assert by_table["table1"] == transposed
    assert by_table["table2"] == _cells_in_paper_order(paper[2], 2)
    assert by_table["table3"] == _cells_in_paper_order(paper[3], 2)
    assert by_table["table4"] == _cells_in_paper_order(paper[4], 1)
    assert by_table["table5"] == _cells_in_paper_order(paper[5], 2)
    assert by_table["table6"] == _cells_in_paper_order(paper[6], 2)


def test_table2_merged_cells_expanded(refs):
    rows = [(c["row"]["lambda_vc"], c["row"]["lambda_sd"]) for c in refs
            if c["table"] == "table2" and c["metric"] == "mIoU"]
    assert rows == [(0, 0), (0.1, 0), (0.5, 0), (1, 0), (0, 0.1), (0, 0.01), (0, 0.001),
                    (0.5, 0.1), (0.5, 0.01), (0.5, 0.001)]
    cell = next(c for c in refs if c["table"] == "table2" and c["row"] == {"lambda_vc": 0.5, "lambda_sd": 0.01}
                and c["metric"] == "R@1,IoU=0.5")
    assert cell["value"] == 46.47 and cell["bold"] is True
