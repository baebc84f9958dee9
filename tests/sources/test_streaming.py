"""Readers stream a unit in batches to a sink: the rows, their order and accounting are those of a whole read,
whatever the batch size, and a runner run writes the same bytes; a remote retry neither loses nor repeats rows."""

from __future__ import annotations

from pathlib import Path

import fsspec
import pyarrow as pa
import pytest

from curate.pipeline import Pipeline
from curate.schema import meta_dicts
from curate.sources import _util
from curate.sources.base import Unit
from curate.sources.warc import WarcReader
from curate.sources.wiki import WikiReader
from curate.stage import StageResult


def streamed(reader, unit: Unit) -> tuple[StageResult, list[int]]:
    """The unit read through a sink, batches and remainder concatenated; and the size of each batch."""
    batches: list[StageResult] = []
    rest = reader.read(unit, sink=batches.append)
    parts = batches + [rest]
    whole = StageResult(
        kept=pa.concat_tables([b.kept for b in parts]),
        dropped=pa.concat_tables([b.dropped for b in parts]),
        errors=pa.concat_tables([b.errors for b in parts]),
    )
    for b in parts:
        for k, v in b.counters.items():
            whole.counters[k] = whole.counters.get(k, 0) + v
    return whole, [b.kept.num_rows + b.dropped.num_rows + b.errors.num_rows for b in parts]


def assert_same(a: StageResult, b: StageResult) -> None:
    for name in ("kept", "dropped", "errors"):
        assert getattr(a, name).to_pylist() == getattr(b, name).to_pylist(), name
    assert a.counters == b.counters


@pytest.mark.parametrize(
    "reader, rel",
    [
        (WarcReader("web", "web"), "web/pages.warc.gz"),
        (WikiReader("wiki", "wiki"), "wiki/wiki-sample-pages-articles.xml.bz2"),
    ],
)
def test_streamed_read_is_the_whole_read_for_any_batch_size(corpus, monkeypatch, reader, rel):
    unit = reader.units([str(corpus / rel)])[0]
    whole = reader.read(unit)
    assert whole.kept.num_rows > 20
    for size in (1, 7):
        monkeypatch.setattr(_util, "READ_BATCH_ROWS", size)
        got, sizes = streamed(reader, unit)
        assert_same(got, whole)
        assert max(sizes) <= size  # the reader never held more than a batch of rows
        assert len(sizes) > whole.kept.num_rows // size


def test_unit_error_after_streamed_batches_counts_every_record_before_it(corpus, tmp_path, monkeypatch):
    data = (corpus / "wiki" / "ukwiki-20230501-pages-articles-multistream.head.xml.bz2").read_bytes()
    cut = tmp_path / "cut.xml.bz2"
    cut.write_bytes(data[: len(data) // 6])  # a truncated download: the streams before the cut decode
    reader = WikiReader("wiki", "wiki")
    unit = reader.units([str(cut)])[0]
    whole = reader.read(unit)
    monkeypatch.setattr(_util, "READ_BATCH_ROWS", 3)
    got, _ = streamed(reader, unit)
    assert_same(got, whole)
    unit_errors = [m for m in meta_dicts(got.errors) if "records_before_error" in m]
    assert len(unit_errors) == 1
    assert unit_errors[0]["records_before_error"] == got.kept.num_rows + got.dropped.num_rows > 3


def test_remote_retry_after_a_flush_neither_loses_nor_repeats_rows(corpus, monkeypatch):
    fs = fsspec.filesystem("memory")
    fs.pipe("/stream/pages.warc.gz", (corpus / "web" / "pages.warc.gz").read_bytes())
    reader = WarcReader("web", "web", WarcReader.Config(retry_backoff_s=0))
    unit = Unit("memory://stream/pages.warc.gz")
    whole = reader.read(unit)
    record, calls = WarcReader._record, []

    def flaky(self, *a, **k):  # the connection drops once, 40 records in (after several flushes)
        calls.append(1)
        if len(calls) == 40:
            raise ConnectionError("connection reset")
        return record(self, *a, **k)

    monkeypatch.setattr(WarcReader, "_record", flaky)
    monkeypatch.setattr(_util, "READ_BATCH_ROWS", 5)
    got, _ = streamed(reader, unit)
    assert len(calls) > 40 + whole.kept.num_rows  # it failed and read the unit again
    assert_same(got, whole)


def test_runner_parts_and_shards_do_not_depend_on_the_read_batch_size(corpus, tmp_path, monkeypatch):
    recipe = {
        "name": "s",
        "seed": 3,
        "workers": 0,
        "sources": [
            {"name": "web", "kind": "web", "format": "warc", "paths": [str(corpus / "web" / "pages.warc.gz")]},
            {
                "name": "wiki",
                "kind": "wiki",
                "format": "mediawiki",
                "paths": [str(corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2")],
            },
        ],
        "stages": [
            {"extract": {}, "only": ["web"]},
            {"clean_lines": {}, "only": ["web"]},
            {"heuristics": {}, "only": ["web"]},
            {"tokenize": {"vocab_size": 1000, "shard_tokens": 50000, "val_fraction": 0.1}},
        ],
    }

    def files(run: Path) -> dict[str, bytes]:
        out = {
            str(p.relative_to(run)): p.read_bytes()
            for d in ("stages", "dropped", "errors", "shards")
            for p in sorted((run / d).rglob("*"))
            if p.is_file()
        }
        assert any(k.startswith("shards/") for k in out) and any(k.startswith("dropped/") for k in out)
        return out

    Pipeline.from_dict(recipe).run(out=tmp_path / "a", log=lambda m: None)
    monkeypatch.setattr(_util, "READ_BATCH_ROWS", 3)
    Pipeline.from_dict(recipe).run(out=tmp_path / "b", log=lambda m: None)
    a, b = files(tmp_path / "a"), files(tmp_path / "b")
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def test_a_failing_sink_fails_the_read_instead_of_becoming_a_record_error(corpus, monkeypatch):
    reader = WarcReader("web", "web")
    unit = reader.units([str(corpus / "web" / "pages.warc.gz")])[0]
    monkeypatch.setattr(_util, "READ_BATCH_ROWS", 5)

    def full(batch: StageResult) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(_util.SinkFailed) as e:
        reader.read(unit, sink=full)
    assert isinstance(e.value.error, OSError) and e.value.error.errno == 28
