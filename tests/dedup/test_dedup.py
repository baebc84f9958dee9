"""Dedup on the planted near-duplicate set (shared/corpus/dedup): quality, priority, audit, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.dedup.exact import ExactDedupStage
from curate.dedup.minhash import MinHashDedupStage
from curate.schema import docs_table, meta_dicts
from curate.stage import FitContext


def _load(corpus: Path) -> tuple[list[dict], dict[str, dict]]:
    d = corpus / "dedup"
    sources = {r["id"]: r for r in map(json.loads, (d / "sources.jsonl").open())}
    truth = {r["id"]: r for r in map(json.loads, (d / "truth.jsonl").open())}
    rows = []
    for r in map(json.loads, (d / "docs.jsonl").open()):
        s = sources[r["id"]]
        # originals keep their corpus as kind; planted copies are "web" so priority decides some pairs
        kind = s["source"]["corpus"] if s["kind"] == "original" else "web"
        rows.append(
            {
                "id": r["id"],
                "source": "planted" if s["kind"] != "original" else kind,
                "kind": kind,
                "url": None,
                "text": r["text"],
                "meta": {},
            }
        )
    return rows, truth


def write_parts(rows: list[dict], out: Path, n_parts: int) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n_parts):
        p = out / f"part-{i:05d}.parquet"
        pq.write_table(docs_table(rows[i::n_parts]), p)
        paths.append(p)
    return paths


def run_stage(stage, parts: list[Path], workdir: Path, map_fn=None):
    ctx = FitContext(parts, workdir, seed=1, map_fn=map_fn or (lambda f, xs: [f(x) for x in xs]), log=lambda m: None)
    state = stage.fit(ctx)
    kept, dropped = [], []
    for p in parts:
        res = stage.apply(pq.read_table(p), state)
        batch_rows = pq.read_table(p).num_rows
        assert batch_rows == res.kept.num_rows + res.dropped.num_rows + res.errors.num_rows
        kept.append(res.kept)
        dropped.append(res.dropped)
    return state, pa.concat_tables(kept), pa.concat_tables(dropped)


@pytest.fixture(scope="module")
def planted(corpus: Path, tmp_path_factory) -> dict:
    rows, truth = _load(corpus)
    parts = write_parts(rows, tmp_path_factory.mktemp("parts"), 4)
    state, kept, dropped = run_stage(MinHashDedupStage(), parts, tmp_path_factory.mktemp("work"))
    return {"rows": rows, "truth": truth, "parts": parts, "state": state, "kept": kept, "dropped": dropped}


def test_precision_recall_at_0_8(planted: dict) -> None:
    truth = planted["truth"]
    removed = set(planted["dropped"].column("id").to_pylist())
    kept = set(planted["kept"].column("id").to_pylist())
    eval_pairs = [(t["id"], t["duplicate_of"]) for t in truth.values() if t["jaccard_5gram"] >= 0.85]
    recall = sum(a in removed or b in removed for a, b in eval_pairs) / len(eval_pairs)
    # verified at 0.8: only pairs at or above the threshold may be removed, one side of each
    ok_pairs = [(t["id"], t["duplicate_of"]) for t in truth.values() if t["jaccard_5gram"] >= 0.8]
    correct = {a for a, b in ok_pairs if a in removed and b in kept} | {
        b for a, b in ok_pairs if b in removed and a in kept
    }
    precision = len(correct & removed) / max(1, len(removed))
    assert len(eval_pairs) == 47 and len(ok_pairs) == 52
    assert recall >= 0.99, recall
    assert len(correct) >= 0.95 * len(ok_pairs), len(correct)
    assert precision == 1.0, (precision, sorted(removed - correct))


def test_audit_and_priority(planted: dict) -> None:
    rank = {"wiki": 0, "books": 1, "code": 2, "web": 3}
    kind = {r["id"]: r["kind"] for r in planted["rows"]}
    dropped = planted["dropped"]
    assert dropped.num_rows > 0
    assert set(dropped.column("reason").to_pylist()) == {"dedup:near"}
    kept = set(planted["kept"].column("id").to_pylist())
    for rid, meta in zip(dropped.column("id").to_pylist(), meta_dicts(dropped)):
        keep = meta["dup_of"]
        assert keep in kept
        assert (rank[kind[keep]], keep) < (rank[kind[rid]], rid)
        assert 0.0 < float(meta["dup_sim"]) <= 1.0
    s = planted["state"]["summary"]
    assert s["removed"] == dropped.num_rows
    assert sum(int(k) * v for k, v in s["cluster_sizes"].items()) == s["removed"] + s["clusters"]
    assert len(s["examples"]) == min(5, s["removed"])


def test_exact_dedup_within_and_across_sources(corpus: Path, tmp_path: Path) -> None:
    rows, truth = _load(corpus)
    exact_copies = {t["id"]: t["duplicate_of"] for t in truth.values() if t["jaccard_5gram"] >= 1.0}
    # a second source holding the same web originals again: cross-source duplicates
    web = [dict(r, source="mirror", kind="web", id="m-" + r["id"]) for r in rows if r["kind"] == "web"][:20]
    parts = write_parts(rows + web, tmp_path / "parts", 3)
    state, kept, dropped = run_stage(ExactDedupStage(), parts, tmp_path / "work")
    gone = dict(zip(dropped.column("id").to_pylist(), (m["dup_of"] for m in meta_dicts(dropped))))
    for m in web:
        assert gone[m["id"]] == m["id"][2:]  # same kind, so the smaller id survives
    assert sum(a in gone or b in gone for a, b in exact_copies.items()) == len(exact_copies)
    assert kept.num_rows + dropped.num_rows == len(rows) + len(web)
    assert state["summary"]["removed"] == dropped.num_rows


def test_same_result_with_ray_tasks(planted: dict, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    import curate

    repo = str(Path(curate.__file__).resolve().parent.parent)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        configure_logging=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": repo}},
    )
    try:
        call = ray.remote(num_cpus=1)(lambda f, x: f(x))
        ray_map = lambda f, xs: ray.get([call.remote(f, x) for x in xs])  # noqa: E731
        stage = MinHashDedupStage(MinHashDedupStage.Config(tasks=3))
        state, kept, dropped = run_stage(stage, planted["parts"], tmp_path / "work", ray_map)
    finally:
        ray.shutdown()
    audit = lambda t: sorted(zip(t.column("id").to_pylist(), map(str, meta_dicts(t))))  # noqa: E731
    assert audit(dropped) == audit(planted["dropped"])
    assert state["summary"] == planted["state"]["summary"]


def test_dedup_files_standalone(corpus: Path, tmp_path: Path) -> None:
    from curate.standalone import dedup_files

    src = tmp_path / "in.jsonl"
    lines = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines()
    src.write_text("\n".join(lines + ["{not json", '{"id": "x", "text": 3}']) + "\n", encoding="utf-8")
    counts = dedup_files(
        [str(src)], str(tmp_path / "out.parquet"), threshold=0.8, dropped=str(tmp_path / "dropped.parquet")
    )
    kept = pq.read_table(tmp_path / "out.parquet")
    dropped = pq.read_table(tmp_path / "dropped.parquet")
    assert counts["input"] == 402 and counts["errors"] == {"jsonl:malformed": 1}
    assert counts["dropped"]["tabular:non_string_text"] == 1
    assert kept.num_rows == counts["kept"] and dropped.num_rows == 402 - kept.num_rows
    reasons = dropped.column("reason").to_pylist()
    assert reasons.count("dedup:exact") == counts["dropped_exact"] > 0
    assert reasons.count("dedup:near") == counts["dropped_near"] > 0
    assert counts["dropped_exact"] + counts["dropped_near"] == 52  # every pair at J >= 0.8, as the stage test
    assert counts["kept"] + sum(counts["dropped"].values()) + sum(counts["errors"].values()) == 402
    assert set(kept.column("id").to_pylist()).isdisjoint(dropped.column("id").to_pylist())
