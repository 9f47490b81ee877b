"""Spec validation: every malformed spec fails with file, key and a hint."""

import pytest

from vdi_core.errors import VdiError
from vdi_core.spec import find_spec, list_specs, load_spec

from toytask import write_spec


def test_toy_spec_loads(tmp_path):
    spec = load_spec(write_spec(tmp_path))
    assert spec.id == "toy1" and spec.task == "toy"
    assert [r.id for r in spec.rows] == ["low", "high"]
    assert spec.row("high").ref("score") == 22.0 and spec.row("high").bold == ("score",)
    assert spec.profiles["mini"].seeds == 3 and spec.profiles["paper"].seeds == 1
    assert spec.metric("other").higher_is_better is False


def _bad(tmp_path, old, new):
    p = write_spec(tmp_path)
    p.write_text(p.read_text().replace(old, new, 1))
    with pytest.raises(VdiError) as e:
        load_spec(p)
    return str(e.value)


def test_unknown_top_level_key_has_did_you_mean(tmp_path):
    msg = _bad(tmp_path, "version = 1", "versoin = 1")
    assert "toy1.toml" in msg and "unknown key 'versoin'" in msg and "did you mean 'version'" in msg


def test_unknown_row_key(tmp_path):
    msg = _bad(tmp_path, 'bold = ["score"]', 'blod = ["score"]')
    assert "rows[1].blod" in msg and "did you mean 'bold'" in msg


def test_wrong_type(tmp_path):
    msg = _bad(tmp_path, "tolerance = 0.5", 'tolerance = "half"')
    assert "metrics[0].tolerance" in msg and "must be float" in msg and "str" in msg


def test_missing_reference(tmp_path):
    msg = _bad(tmp_path, "reference = { score = 12.0, other = 88.0 }", "reference = { score = 12.0 }")
    assert "row 'low'" in msg and "missing reference value for other" in msg


def test_reference_for_unknown_metric(tmp_path):
    msg = _bad(tmp_path, "score = 12.0, other", "scroe = 12.0, score = 1.0, other")
    assert "unknown metric 'scroe'" in msg and "did you mean 'score'" in msg


def test_claim_names_unknown_row(tmp_path):
    msg = _bad(tmp_path, 'a = "high"', 'a = "hihg"')
    assert "unknown row 'hihg'" in msg and "did you mean 'high'" in msg


def test_unknown_claim_kind(tmp_path):
    msg = _bad(tmp_path, 'kind = "greater"', 'kind = "bigger"')
    assert "claims[0].kind 'bigger'" in msg


def test_invalid_toml_is_one_line(tmp_path):
    msg = _bad(tmp_path, "version = 1", "version = = 1")
    assert "invalid TOML" in msg and "\n" not in msg


def test_unknown_table_did_you_mean():
    with pytest.raises(VdiError, match="did you mean 'table3'"):
        find_spec("tabel3")


def test_all_experiment_specs_load():
    names = list_specs()
    assert names == ["fig1", "premise", "table1", "table2", "table3", "table4", "table5", "table6"]
    for n in names:
        spec = find_spec(n)
        assert spec.rows and spec.metrics


def test_every_claim_holds_on_the_paper_numbers():
    """The claims we state must be true of the paper's own table (a transcription check)."""
    from vdi_core.claims import evaluate_claim

    for n in list_specs():
        spec = find_spec(n)
        if spec.task == "word_weights" or not spec.rows_for("paper"):  # premise: a mini-only diagnostic
            continue
        for c in spec.claims:
            held, evidence = evaluate_claim(spec, c, {}, "paper", use_reference=True)
            assert held is True, f"{n}: claim {c.id} does not hold on the paper's numbers: {evidence}"
