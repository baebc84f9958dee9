"""The fastText quality classifier (filters.quality): held-out metrics, threshold and token-budget
calibration, determinism, reproducible training and reuse of a saved model.
"""

import json
from itertools import product

import numpy as np
import pyarrow.parquet as pq
import pytest

from curate.filters.classifier import NEG, POS, auc, calibrate_alpha, expected_keep_rate, pareto_draw
from curate.filters.quality import QualityStage, _sample_part
from curate.stage import FitContext
from tests.support.filter_texts import dedup_docs, table


def _serial(fn, items):
    return [fn(x) for x in items]


@pytest.fixture(scope="module")
def fitted(corpus, tmp_path_factory):
    d = tmp_path_factory.mktemp("q")
    docs = list(dedup_docs(corpus))
    t = table(docs)
    parts = []
    for i in range(3):  # three parts, to check partition-independent sampling below
        p = d / f"part-{i}.parquet"
        pq.write_table(t.slice(i * 100, 100), p)
        parts.append(p)
    stage = QualityStage.from_dict({"epoch": 10})
    state = stage.fit(FitContext(parts, d / "work", 1234, _serial))
    return stage, state, t, d


def test_auc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    labels = rng.random(200) < 0.4
    scores = np.round(rng.random(200) + labels * 0.3, 1)  # many ties
    pos, neg = scores[labels], scores[~labels]
    brute = np.mean([(p > n) + 0.5 * (p == n) for p, n in product(pos, neg)])
    assert auc(labels, scores) == pytest.approx(brute)


def test_pareto_rule_and_calibration():
    # numpy's pareto is Lomax: P(X > x) = (1 + x)^-alpha
    draws = np.array([pareto_draw(7, f"doc{i}", 9.0) for i in range(20000)])
    for s in (0.1, 0.5, 0.9):
        assert np.mean(draws > 1 - s) == pytest.approx((2 - s) ** -9, abs=0.01)
    assert pareto_draw(7, "a", 9.0) == pareto_draw(7, "a", 9.0) != pareto_draw(8, "a", 9.0)
    scores = np.linspace(0, 1, 101)
    alpha = calibrate_alpha(scores, 0.3)
    assert expected_keep_rate(scores, alpha) == pytest.approx(0.3, abs=1e-6)


def test_fit_reports_held_out_metrics(fitted):
    stage, state, _, d = fitted
    s = state["summary"]
    assert s["n_test_pos"] > 10 and s["n_test_neg"] > 10 and s["n_train"] > 100
    assert s["auc"] > 0.85  # measured 0.95 on the sample (wiki+books vs web)
    assert 0 < s["precision"] <= 1 and 0 < s["recall"] <= 1
    assert (d / "work" / "quality.bin").exists()
    assert json.loads((d / "work" / "quality_eval.json").read_text())["auc"] == s["auc"]


def test_apply_is_deterministic_and_batch_independent(fitted):
    stage, state, t, _ = fitted
    whole = stage.apply(t, state)
    assert whole.kept.num_rows + whole.dropped.num_rows == t.num_rows and whole.errors.num_rows == 0
    web = sum(k == "web" for k in t["kind"].to_pylist())
    assert whole.dropped.num_rows > 0 and set(whole.dropped["reason"].to_pylist()) == {"quality:pareto"}
    assert whole.kept.num_rows - web + whole.dropped.num_rows == t.num_rows - web  # wiki/books pass through
    pieces = [stage.apply(t.slice(i, 37), state) for i in range(0, t.num_rows, 37)]
    assert sorted(i for p in pieces for i in p.kept["id"].to_pylist()) == sorted(whole.kept["id"].to_pylist())
    metas = [json.loads(m) for m in whole.dropped["meta"].to_pylist()]
    assert all(m["quality_keep"] == 0 and 0 <= m["quality_score"] <= 1 for m in metas)


def test_saved_model_reuse_and_threshold_calibration(fitted, tmp_path):
    stage, state, t, d = fitted
    parts = [d / "part-0.parquet", d / "part-1.parquet", d / "part-2.parquet"]
    reuse = QualityStage.from_dict({"model": state["model"], "mode": "threshold", "target_keep_rate": 0.5})
    st2 = reuse.fit(FitContext(parts, tmp_path, 1234, _serial))
    assert st2["summary"]["auc"] == pytest.approx(state["summary"]["auc"])
    assert st2["summary"]["n_train"] == 0 and not (tmp_path / "quality.bin").exists()
    assert st2["summary"]["expected_web_keep_rate"] == pytest.approx(0.5, abs=0.1)
    res = reuse.apply(t, st2)
    assert res.dropped.num_rows > 0 and set(res.dropped["reason"].to_pylist()) == {"quality:threshold"}


def test_retraining_is_reproducible(fitted, tmp_path):
    stage, state, t, d = fitted
    parts = sorted(d.glob("part-*.parquet"))
    again = stage.fit(FitContext(parts[::-1], tmp_path, 1234, _serial))
    assert again["summary"]["auc"] == state["summary"]["auc"]
    a = stage.apply(t, state)
    b = stage.apply(t, again)
    assert a.kept["id"].to_pylist() == b.kept["id"].to_pylist()


@pytest.mark.parametrize("mode", ["threshold", "pareto"])
def test_token_budget_calibration(fitted, tmp_path, mode):
    stage, state, t, d = fitted
    parts = sorted(d.glob("part-*.parquet"))
    web_bytes = sum(len(x.encode()) for x, k in zip(t["text"].to_pylist(), t["kind"].to_pylist()) if k == "web")
    budget = int(0.4 * web_bytes / 4.0)  # 40% of the web text, at the default 4 bytes per token
    cal = QualityStage.from_dict({"model": state["model"], "mode": mode, "target_tokens": budget})
    st = cal.fit(FitContext(parts, tmp_path, 1234, _serial))
    s = st["summary"]
    assert s["scored_bytes"] == web_bytes
    assert s["calibrated_on"] == "all_scored"
    assert s["expected_scored_tokens_kept"] == pytest.approx(budget, rel=0.02)
    res = cal.apply(t, st)
    kept = zip(res.kept["text"].to_pylist(), res.kept["kind"].to_pylist())
    kept_bytes = sum(len(x.encode()) for x, k in kept if k == "web")
    if mode == "threshold":  # met to a document (the 126 web pages average ~5 kB)
        assert kept_bytes / 4.0 == pytest.approx(budget, rel=0.05)
    else:  # met in expectation: each page is an independent Pareto draw
        assert 0.3 < kept_bytes / web_bytes < 0.5
    with pytest.raises(ValueError, match="not both"):
        QualityStage.from_dict({"target_tokens": 1, "target_keep_rate": 0.5}).fit(
            FitContext(parts, tmp_path, 1234, _serial)
        )


def test_bottom_k_sample_is_partition_independent_and_a_saved_model_pulls_no_text(fitted, tmp_path):
    stage, state, t, d = fitted
    whole = tmp_path / "whole.parquet"
    pq.write_table(t, whole)
    small = {"epoch": 10, "max_docs_per_class": 40}
    a = QualityStage.from_dict(small).fit(FitContext(sorted(d.glob("part-*.parquet")), tmp_path / "a", 1234, _serial))
    b = QualityStage.from_dict(small).fit(FitContext([whole], tmp_path / "b", 1234, _serial))
    assert a["summary"]["n_test"] == b["summary"]["n_test"] and a["summary"]["auc"] == b["summary"]["auc"]
    assert (tmp_path / "a" / "quality.bin").read_bytes() == (tmp_path / "b" / "quality.bin").read_bytes()
    assert not (tmp_path / "a" / "quality_train.txt").exists()  # a work file: removed once the model is trained
    assert 0 < a["summary"]["n_test"] < 40  # 2 x 40 sampled documents, about 20% of them held out
    rows = _sample_part(
        str(whole), ["wiki", "books"], ["web"], 1234, {POS: 2**64, NEG: 2**64}, state["model"], 0.2, 20000
    )
    assert len(rows) == t.num_rows and all(r[3] is None for r in rows)  # hashes and scores, never text
    assert 0 < sum(r[4] is not None for r in rows) < t.num_rows
