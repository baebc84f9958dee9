"""Megatron shards: format, independent reader round trip, determinism across partitioning/workers,
validation split, repeats, and lineage (``curate trace`` against the corpus' own provenance)."""

from __future__ import annotations

import hashlib
import json
import random
import struct
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import sentencepiece as spm

from curate.shards.megatron import IndexedReader, IndexedWriter, token_dtype
from curate.trace import TraceError, trace
from tests import REPO
from tests.support.docs import build_run, corpus_docs, write_parts


def shard_bytes(run: Path) -> dict[str, str]:
    """Digest of every file of the published set (token files, indexes, lineage, tokenizer copy)."""
    files = sorted(f for f in (run / "shards").rglob("*") if f.is_file())
    assert any(f.suffix == ".bin" for f in files) and any(f.parent.name == "lineage" for f in files)
    return {str(f.relative_to(run / "shards")): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


@pytest.fixture(scope="module")
def docs(corpus: Path) -> list[dict]:
    return corpus_docs(corpus)


@pytest.fixture(scope="module")
def repeats(docs: list[dict]) -> dict[str, int]:
    return {r["id"]: 3 for r in docs[:20]}  # as the mix stage would mark up-sampled documents


@pytest.fixture(scope="module")
def run(docs, repeats, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("run3")
    build_run(write_parts(docs, 3, d / "in", repeats), d, seed=11)
    return d


def test_index_format_and_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for vocab in (50_000, 100_000):
        dtype = token_dtype(vocab)
        docs = [rng.integers(0, vocab, rng.integers(0, 300)) for _ in range(50)]
        w = IndexedWriter(tmp_path / f"v{vocab}", dtype)
        for d in docs:
            w.add(d)
        w.close()
        raw = (tmp_path / f"v{vocab}.idx").read_bytes()
        assert raw[:9] == b"MMIDIDX\x00\x00" and struct.unpack_from("<QBQQ", raw, 9) == (
            1,
            8 if vocab < 65536 else 4,
            50,
            51,
        )
        r = IndexedReader(tmp_path / f"v{vocab}")
        assert r.dtype == dtype and len(r) == 50 and list(r.document_indices) == list(range(51))
        assert all(np.array_equal(r[i], d) for i, d in enumerate(docs))


def test_reader_rejects_corrupt_files(tmp_path: Path) -> None:
    w = IndexedWriter(tmp_path / "s", np.uint16)
    w.add(np.arange(10))
    w.close()
    (tmp_path / "s.bin").write_bytes((tmp_path / "s.bin").read_bytes()[:-2])
    with pytest.raises(ValueError, match="index says"):
        IndexedReader(tmp_path / "s")
    (tmp_path / "s.idx").write_bytes(b"NOTANIDX" + b"\x00" * 40)
    with pytest.raises(ValueError, match="not a Megatron"):
        IndexedReader(tmp_path / "s")


def test_every_shard_reads_back_to_the_documents(run: Path, docs: list[dict], repeats: dict[str, int]) -> None:
    m = json.loads((run / "manifest.json").read_text())
    sp = spm.SentencePieceProcessor(model_file=str(run / m["tokenizer"]["path"]))
    assert (
        m["dtype"] == "uint16" and m["vocab_size"] == sp.vocab_size() and m["eod_id"] == sp.piece_to_id("<|endoftext|>")
    )
    lineage = pq.read_table(run / m["lineage"]).to_pylist()
    text = {r["id"]: r["text"] for r in docs}
    seen = 0
    for split, entries in m["splits"].items():
        for e in entries:
            r = IndexedReader(run / e["prefix"])
            assert r.tokens.size == e["tokens"] and len(r) == e["documents"]
            assert hashlib.sha256((run / (e["prefix"] + ".bin")).read_bytes()).hexdigest() == e["bin_sha256"]
            rows = [x for x in lineage if x["shard"] == e["name"]]
            assert [x["doc_index"] for x in rows] == list(range(len(r)))
            for x in rows:
                toks = r[x["doc_index"]]
                assert toks[-1] == m["eod_id"] and m["eod_id"] not in toks[:-1]
                assert sp.decode(toks[:-1].tolist()) == text[x["id"]]  # lossless: identity normalisation
            seen += len(r)
    train_ids = [x["id"] for x in lineage if x["split"] == "train"]
    val_ids = {x["id"] for x in lineage if x["split"] == "val"}
    assert val_ids and not val_ids & set(train_ids)
    assert (
        len(train_ids) + len(val_ids) == seen == sum(repeats.get(i, 1) for i in text if i not in val_ids) + len(val_ids)
    )
    assert all(train_ids.count(i) == 3 for i in repeats if i not in val_ids)
    assert sum(e["tokens"] for e in m["splits"]["train"]) == m["tokens"]["train"]
    assert len(m["splits"]["train"]) > 2  # several shards of ~shard_tokens


def test_shards_identical_across_partitioning_and_workers(run: Path, docs, repeats, tmp_path: Path) -> None:
    one = tmp_path / "run1"
    build_run(write_parts(list(reversed(docs)), 1, one / "in", repeats), one, seed=11)
    assert shard_bytes(one) == shard_bytes(run)
    assert (one / "manifest.json").read_bytes() != (run / "manifest.json").read_bytes()  # the parts' paths
    small = tmp_path / "buckets"  # one shuffle task per shard instead of one for all: same bytes
    build_run(write_parts(docs, 4, small / "in", repeats), small, seed=11, shuffle_bucket_tokens=1)
    assert shard_bytes(small) == shard_bytes(run)
    assert (one / "tokenizer" / "tokenizer.model").read_bytes() == (run / "tokenizer" / "tokenizer.model").read_bytes()
    other = tmp_path / "seed12"
    build_run(
        write_parts(docs, 3, other / "in", repeats), other, seed=12, model=str(run / "tokenizer" / "tokenizer.model")
    )
    assert shard_bytes(other) != shard_bytes(run)


@pytest.mark.slow
def test_shards_identical_with_ray_workers(run: Path, docs, repeats, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            configure_logging=False,
            log_to_driver=False,
            runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}},
        )
    try:
        call = ray.remote(num_cpus=1)(lambda fn, x: fn(x))

        def ray_map(fn, items):
            return ray.get([call.remote(fn, x) for x in items])

        d = tmp_path / "ray"
        build_run(write_parts(docs, 5, d / "in", repeats), d, seed=11, map_fn=ray_map)
    finally:
        if started:
            ray.shutdown()
    assert shard_bytes(d) == shard_bytes(run)


def test_trace_returns_the_source_url(run: Path, corpus: Path) -> None:
    truth = {
        json.loads(line)["id"]: json.loads(line)["source"]
        for line in (corpus / "dedup" / "sources.jsonl").read_text().splitlines()
    }
    docs_text = {
        json.loads(line)["id"]: json.loads(line)["text"]
        for line in (corpus / "dedup" / "docs.jsonl").read_text().splitlines()
    }
    m = json.loads((run / "manifest.json").read_text())
    rng = random.Random(5)
    web_hits = 0
    for _ in range(40):
        e = rng.choice(m["splits"]["train"] + m["splits"]["val"])
        t = trace(run, e["name"], rng.randrange(e["tokens"]))
        corpus_id = next(k for k, v in docs_text.items() if v == t["text"])  # the original document
        src = truth[corpus_id]
        if "url" in src:
            assert t["url"] == src["url"]
            web_hits += 1
        elif "planted_from" in src:
            assert t["url"] == f"dedup/docs.jsonl#{corpus_id}"
        else:
            assert t["url"].startswith(f"{src['corpus']}/{src['file']}#") and t["source"] == src["corpus"]
    assert web_hits >= 5
    assert trace(run, 0, 0)["shard"] == "train-00000"
    with pytest.raises(TraceError, match="out of range"):
        trace(run, "train-00000", 10**9)


def test_repeated_ids_do_not_make_the_order_depend_on_parts(docs, tmp_path: Path) -> None:
    rows = docs[:60]
    rows = rows + [{**rows[5], "text": rows[7]["text"]}, {**rows[9], "url": "https://example.org/copy"}]
    a, b = tmp_path / "a", tmp_path / "b"
    build_run(write_parts(rows, 1, a / "in"), a, seed=3, shard_tokens=5_000)
    build_run(
        write_parts(list(reversed(rows)), 3, b / "in"),
        b,
        seed=3,
        shard_tokens=5_000,
        model=str(a / "tokenizer" / "tokenizer.model"),
    )
    assert shard_bytes(a) == shard_bytes(b)


def test_empty_parts_and_a_lone_document(run: Path, docs, tmp_path: Path) -> None:
    from curate.shards.publish import check_published

    model = str(run / "tokenizer" / "tokenizer.model")
    parts = write_parts([], 1, tmp_path / "in0") + write_parts(docs[:1], 1, tmp_path / "in1")
    out = build_run(parts, tmp_path / "r", seed=1, model=model)["tokenize"]
    assert out["encoded_docs"] == 1 and sum(out["shards"].values()) == 1 and check_published(tmp_path / "r") == []
    out = build_run(parts[:1], tmp_path / "e", seed=1, model=model)["tokenize"]
    assert out["shards"] == {"train": 0, "val": 0} and out["tokens"] == {"train": 0, "val": 0}


def test_shuffle_task_holds_a_bounded_number_of_part_files(
    run: Path, docs, repeats, tmp_path: Path, monkeypatch
) -> None:
    """A bucket reads from every part; a snapshot's tens of thousands of parts must not each hold a descriptor."""
    from curate.shards import writer

    opened: list[int] = []
    real = writer.PartFiles.pread

    def pread(self, part, size, offset):
        data = real(self, part, size, offset)
        opened.append(len(self.fds))
        return data

    monkeypatch.setattr(writer, "MAX_OPEN_PARTS", 2)
    monkeypatch.setattr(writer.PartFiles, "pread", pread)
    few = tmp_path / "few_fds"
    build_run(write_parts(docs, 5, few / "in", repeats), few, seed=11)
    assert shard_bytes(few) == shard_bytes(run)  # same bytes whatever the descriptors held
    assert opened and max(opened) == 2  # five parts read through at most two open files
