"""Dedup scales by partitions: exact dedup writes O(P) files, results do not depend on the number of
partitions, and repeated ids never make a duplicate immune (documents are keyed by position)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from curate.dedup.exact import ExactDedupStage
from curate.dedup.minhash import MinHashDedupStage
from curate.schema import meta_dicts
from tests.dedup.test_dedup import _load, run_stage, write_parts


def _audit(t) -> list:
    return sorted(zip(t.column("id").to_pylist(), t.column("text").to_pylist(), map(str, meta_dicts(t))))


@pytest.mark.parametrize("tasks", [None, 16])
def test_exact_dedup_writes_o_p_files(corpus: Path, tmp_path: Path, tasks: int | None) -> None:
    rows, _ = _load(corpus)
    rows = rows + [dict(r, id="m-" + r["id"], kind="web", source="mirror") for r in rows[:150]]
    parts = write_parts(rows, tmp_path / "parts", 128)
    state, kept, dropped = run_stage(ExactDedupStage(ExactDedupStage.Config(tasks=tasks)), parts, tmp_path / "work")
    files = [p for p in (tmp_path / "work").rglob("*") if p.is_file()]
    hash_partitions = len(list((tmp_path / "work" / "decided").glob("*.arrow")))
    assert hash_partitions == (tasks or 1)
    # a hash file and its index per part, the same per hash partition, 5 arrays per removal bucket
    # (the former layout wrote parts x partitions = 16,384 hash files here)
    assert len(files) <= 2 * 128 + 2 * hash_partitions + 5 * state["buckets"], len(files)
    assert len(list((tmp_path / "work" / "hashes").glob("*.arrow"))) == 128
    assert state["summary"]["removed"] == dropped.num_rows >= 150
    few = write_parts(rows, tmp_path / "few", 3)
    _, kept3, dropped3 = run_stage(ExactDedupStage(), few, tmp_path / "work3")
    assert _audit(dropped) == _audit(dropped3)


def test_same_result_whatever_the_partitions(corpus: Path, tmp_path: Path) -> None:
    rows, _ = _load(corpus)
    parts = write_parts(rows, tmp_path / "parts", 4)
    results = []
    for k in (1, 6):
        stage = MinHashDedupStage(MinHashDedupStage.Config(tasks=k))
        state, kept, dropped = run_stage(stage, parts, tmp_path / f"work{k}")
        results.append((_audit(dropped), state["summary"]))
    assert results[0] == results[1]
    assert results[0][1]["removed"] == 52


def test_repeated_ids_are_not_immune(corpus: Path, tmp_path: Path) -> None:
    rows, truth = _load(corpus)
    by_id = {r["id"]: r for r in rows}
    pair = next(t for t in truth.values() if 0.85 <= t["jaccard_5gram"] < 1.0)
    orig, copy = by_id[pair["duplicate_of"]], by_id[pair["id"]]
    exact = next(t for t in truth.values() if t["jaccard_5gram"] >= 1.0)
    docs = [
        dict(copy, id="same-near", kind="web"),
        dict(orig, id="same-near", kind="wiki"),  # near pair, one id
        dict(by_id[exact["id"]], id="same-exact", kind="web"),  # exact pair (case/space changes), one id
        dict(by_id[exact["duplicate_of"]], id="same-exact", kind="web"),
    ]
    twin = dict(rows[5], id="twin")
    docs += [twin, dict(twin), dict(twin)]  # whole rows repeated in one part: one kept
    parts = write_parts(docs, tmp_path / "parts", 1)
    _, kept_e, dropped_e = run_stage(ExactDedupStage(), parts, tmp_path / "exact")
    assert dropped_e.num_rows == 3 and kept_e.num_rows == 4
    assert kept_e.column("id").to_pylist().count("twin") == 1
    pq.write_table(kept_e, parts[0])
    _, kept_n, dropped_n = run_stage(MinHashDedupStage(), parts, tmp_path / "near")
    assert dropped_n.num_rows == 1 and kept_n.num_rows == 3
    gone = dropped_n.to_pylist()[0]
    assert gone["id"] == "same-near" and gone["kind"] == "web"  # the wiki copy outranks it


def test_whole_row_copies_in_other_parts_are_counted(corpus: Path, tmp_path: Path) -> None:
    rows, _ = _load(corpus)
    twin = dict(rows[7], id="twin")
    parts = write_parts([twin, dict(twin), dict(twin), rows[8]], tmp_path / "parts", 2)  # twins in both parts
    state, kept, dropped = run_stage(ExactDedupStage(), parts, tmp_path / "work")
    s = state["summary"]
    # part 0 keeps its first copy; part 1 cannot tell its copy from the survivor and keeps it, counted
    assert kept.column("id").to_pylist().count("twin") == 2 and dropped.num_rows == 1
    assert s["removed"] == dropped.num_rows and s["identical_rows_kept_in_other_parts"] == 1


@pytest.mark.parametrize("partitions", [1, 3, 7])
def test_star_rounds_label_every_component_by_its_smallest_node(tmp_path: Path, partitions: int) -> None:
    from curate.dedup.components import components, labels_of, write_edges

    rng = np.random.default_rng(partitions)
    n = 3000
    u, v = rng.integers(0, n, 2500), rng.integers(0, n, 2500)
    u, v = np.append(u, np.arange(1000, 1400)), np.append(v, np.arange(1001, 1401))  # a long chain too
    u, v = u[u != v], v[u != v]
    files = []
    for i, (cu, cv) in enumerate(zip(np.array_split(u, 4), np.array_split(v, 4))):
        files.append(str(tmp_path / f"in{i}.arrow"))
        write_edges(files[-1], cu, cv, partitions)
    stars, rounds = components(files, partitions, tmp_path, lambda f, xs: [f(x) for x in xs])
    got = {}
    for m in range(partitions):
        node, label = labels_of(stars, m)
        got.update(zip(node.tolist(), label.tolist()))
    root = list(range(n))  # reference: union-find, always linking to the smaller root

    def find(x: int) -> int:
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    for a, b in zip(u.tolist(), v.tolist()):
        ra, rb = find(a), find(b)
        root[max(ra, rb)] = min(ra, rb)
    assert got == {x: find(x) for x in set(u.tolist()) | set(v.tolist())}
    assert 1 <= rounds < 20
