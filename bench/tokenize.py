"""Encoding throughput: our per-part encoder as Ray tasks (1 and 2 workers) vs sentencepiece's native
single-thread ``encode`` on the same text, same tokenizer, same run.

Text: the corpus' books (Project Gutenberg, cut into ~16 kB documents) plus the dedup set. Our figure
includes reading the Parquet part and writing the token file and document table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial
from pathlib import Path

import pyarrow.parquet as pq

from curate.schema import docs_table
from tests.conftest import corpus_dir
from tests.support.docs import corpus_docs


def _book_docs(corpus: Path, chunk: int = 16_000) -> list[dict]:
    rows = []
    for f in sorted((corpus / "books").glob("*.txt")):
        raw = f.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252")
        for i in range(0, len(text), chunk):
            rows.append(
                {
                    "id": f"{f.name}:{i}",
                    "source": "books",
                    "kind": "books",
                    "url": f"books/{f.name}",
                    "text": text[i : i + chunk],
                }
            )
    return rows


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench tokenize")
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--parts", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3, help="best of N timings")
    a = ap.parse_args(argv)
    import ray
    import sentencepiece as spm

    from curate.tokenizer.encode import encode_part
    from curate.tokenizer.train import doc_lines, train_sentencepiece

    corpus = corpus_dir()
    rows = _book_docs(corpus) + corpus_docs(corpus)
    texts = [r["text"] for r in rows]
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_p = Path(tmp)
        lines = [ln for t in texts[::4] for ln in doc_lines(t)]
        model = str(train_sentencepiece(lines, tmp_p / "tok", vocab_size=a.vocab))
        sp = spm.SentencePieceProcessor(model_file=model)
        size = -(-len(rows) // a.parts)
        parts = []
        for i in range(a.parts):
            p = tmp_p / f"part-{i:05d}.parquet"
            pq.write_table(docs_table(rows[i * size : (i + 1) * size]), p)
            parts.append(p)
        (tmp_p / "enc").mkdir()
        task = partial(encode_part, model=model, out_dir=str(tmp_p / "enc"), dtype="uint16")
        chunks = [texts[i * size : (i + 1) * size] for i in range(a.parts)]  # same batches as the parts
        native = min(_timed(lambda: [sp.encode(c, num_threads=1) for c in chunks]) for _ in range(a.repeat))
        print(f"text: {nbytes / 1e6:.1f} MB in {len(rows)} documents, {a.parts} parts, vocab {sp.vocab_size()}")
        print(f"sentencepiece native encode, 1 thread: {nbytes / native / 1e6:6.2f} MB/s")
        one = None
        for workers in (1, 2):
            ray.init(
                num_cpus=workers,
                include_dashboard=False,
                configure_logging=False,
                log_to_driver=False,
                runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}},
            )
            call = ray.remote(num_cpus=1)(lambda fn, x: fn(x))
            ray.get([call.remote(task, parts[0]) for _ in range(workers)])  # start workers, load the model
            wall = min(_timed(lambda: ray.get([call.remote(task, p) for p in parts])) for _ in range(a.repeat))  # noqa: B023 (called at once)
            ray.shutdown()
            rate = nbytes / wall / 1e6
            one = one or rate
            print(
                f"ours, Ray, {workers} worker(s): {rate:6.2f} MB/s total, {rate / workers:6.2f} MB/s per core "
                f"= {rate / workers / (nbytes / native / 1e6):.2f}x native per core, "
                f"scaling {rate / one:.2f}x vs 1 worker"
            )
