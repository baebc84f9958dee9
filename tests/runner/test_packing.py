"""Many small input files are packed into read tasks by bytes, not one task (and one part) per file; the
packing depends only on the files, so outputs are the same whatever the workers.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from curate.pipeline import Pipeline
from curate.runplan import MAX_UNITS_PER_TASK, MIN_SLICE_TASK_BYTES, pack_units, slice_task_bytes, unit_text_bytes
from curate.sources.base import Unit


def _run(tmp_path: Path, name: str, paths: list[str]) -> tuple[dict, list[str]]:
    run = tmp_path / name
    summary = Pipeline.from_dict(
        {
            "name": name,
            "workers": 0,
            "stages": [],
            "sources": [{"name": "docs", "kind": "web", "format": "jsonl", "paths": paths}],
        }
    ).run(out=run, workers=0, log=lambda m: None)
    texts = [
        t
        for p in sorted((run / "stages" / "00_read").glob("*.parquet"))
        for t in pq.read_table(p, columns=["text"]).column("text").to_pylist()
    ]
    return summary["stages"][0], texts


def test_many_small_files_are_read_by_a_few_tasks(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)[:300]
    small = tmp_path / "small"
    small.mkdir()
    for i, ln in enumerate(lines):
        (small / f"doc-{i:04d}.jsonl").write_text(ln, encoding="utf-8")
    (tmp_path / "one.jsonl").write_text("".join(lines), encoding="utf-8")
    many, many_texts = _run(tmp_path, "many", [str(small / "*.jsonl")])
    one, one_texts = _run(tmp_path, "one", [str(tmp_path / "one.jsonl")])
    assert (many["in"], many["kept"]) == (300, 300)
    # 300 small files make as few tasks and parts as one file of the same bytes (1.2 MB: 2), not one per file
    assert many["parts"] == one["parts"] == 2
    assert many_texts == one_texts


def test_packing_follows_bytes_and_keeps_split_ranges_apart(corpus: Path) -> None:
    files = sorted(str(p) for p in (corpus / "books").glob("*.txt")) + [str(corpus / "web" / "pages.warc.gz")]
    units = [("s", Unit(p)) for p in files]
    units.insert(3, ("s", Unit(files[0], 0, 1000)))  # a range of a split file
    budget = 2_000_000
    packs = pack_units(units, budget)
    assert [u for p in packs for u in p] == units  # every unit once, in order
    assert [("s", Unit(files[0], 0, 1000))] in packs
    for p in packs:
        assert len(p) == 1 or sum(unit_text_bytes(u) for _, u in p) <= budget
    assert len(packs) < len(units) - 3
    assert pack_units(units, budget) == packs  # no dependence on anything but the units
    tiny = [("s", Unit(files[0]))] * (MAX_UNITS_PER_TASK + 5)
    assert [len(p) for p in pack_units(tiny, 1 << 40)] == [MAX_UNITS_PER_TASK, 5]


def test_later_segments_of_a_small_job_are_cut_into_tasks_not_one() -> None:
    mib = 1 << 20
    # the sample WARC's 14 MB of filtered text: 4 tasks for dedup's passes and apply, not one task and one part
    assert slice_task_bytes(14_000_000, 64 * mib) == MIN_SLICE_TASK_BYTES == 4 * mib
    assert slice_task_bytes(300_000, 64 * mib) == 4 * mib  # under the floor: one task
    assert slice_task_bytes(32 * 10 * mib, 64 * mib) == 10 * mib  # READ_TASKS (32) tasks between the bounds
    assert slice_task_bytes(10**12, 64 * mib) == 64 * mib  # a large job: the fixed task size
    assert slice_task_bytes(14_000_000, 20_000) == 20_000  # a smaller cap wins
