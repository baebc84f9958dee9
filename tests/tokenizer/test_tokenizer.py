"""Tokenizer: BPE training with byte fallback and an EOD control symbol, reuse by path, standalone entry
points; documents whose tokens do not decode back to their text are counted.
"""

from __future__ import annotations

import bz2
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sentencepiece as spm

from curate.schema import docs_table
from curate.stage import FitContext
from curate.standalone import tokenize_files, train_tokenizer
from curate.tokenizer.stage import TokenizeStage
from tests.support.docs import corpus_docs, serial, write_parts


@pytest.fixture(scope="module")
def model(corpus: Path, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("tok")
    path = train_tokenizer(
        [str(corpus / "dedup" / "docs.jsonl")],
        str(d),
        vocab_size=1500,
        sample_chars=600_000,
        special_tokens=["<|pad|>"],
        seed=1,
    )
    return Path(path)


def jawiki_text(corpus: Path, n: int = 200_000) -> str:
    with bz2.open(
        corpus / "wiki" / "jawiki-20230501-pages-articles-multistream.head.xml.bz2", "rt", encoding="utf-8"
    ) as f:
        head = f.read(n)
    return "".join(re.findall(r"[\u3040-\u30ff\u4e00-\u9fff]+", head))[:3000]


def test_model_pieces_eod_and_byte_fallback(model: Path, corpus: Path) -> None:
    sp = spm.SentencePieceProcessor(model_file=str(model))
    assert sp.vocab_size() == 1500
    eod = sp.piece_to_id("<|endoftext|>")
    assert sp.is_control(eod) and sp.is_control(sp.piece_to_id("<|pad|>"))
    assert eod not in sp.encode("a line that mentions <|endoftext|> literally")  # text never becomes EOD
    ja = jawiki_text(corpus)
    assert len(ja) > 500
    ids = sp.encode(ja)
    assert sp.unk_id() not in ids and any(sp.is_byte(i) for i in ids) and sp.decode(ids) == ja
    for r in corpus_docs(corpus)[:50]:  # identity normalisation: lossless on real text
        assert sp.decode(sp.encode(r["text"])) == r["text"]


def test_training_is_deterministic(model: Path, corpus: Path, tmp_path: Path) -> None:
    again = train_tokenizer(
        [str(corpus / "dedup" / "docs.jsonl")],
        str(tmp_path),
        vocab_size=1500,
        sample_chars=600_000,
        special_tokens=["<|pad|>"],
        seed=1,
    )
    assert Path(again).read_bytes() == model.read_bytes()


def test_reuse_by_path_and_missing_eod(model: Path, corpus: Path, tmp_path: Path) -> None:
    parts = write_parts(corpus_docs(corpus)[:30], 1, tmp_path / "in")
    stage = TokenizeStage.from_dict({"model": str(model)})
    state = stage.fit(FitContext(parts, tmp_path, 0, serial, run_dir=tmp_path / "r", log=lambda s: None))
    assert (tmp_path / "r" / "tokenizer" / "tokenizer.model").read_bytes() == model.read_bytes()
    assert state["reused_from"] == str(model.resolve()) and state["vocab_size"] == 1500
    bad = TokenizeStage.from_dict({"model": str(model), "eod_token": "</doc>"})
    with pytest.raises(ValueError, match="no control symbol '</doc>'"):
        bad.fit(FitContext(parts, tmp_path, 0, serial, run_dir=tmp_path / "r2", log=lambda s: None))
    with pytest.raises(FileNotFoundError):
        TokenizeStage.from_dict({"model": str(tmp_path / "nope.model")}).fit(
            FitContext(parts, tmp_path, 0, serial, run_dir=tmp_path / "r3")
        )


def test_empty_documents_are_dropped_with_reason(corpus: Path) -> None:
    rows = corpus_docs(corpus)[:3]
    rows[1] = {**rows[1], "text": ""}
    rows[2] = {**rows[2], "text": None}
    res = TokenizeStage().apply(docs_table(rows), {})
    assert res.kept.num_rows == 1 and res.dropped.column("reason").to_pylist() == ["tokenize:empty"] * 2


def test_tokenize_files_writes_shards_and_manifest(model: Path, corpus: Path, tmp_path: Path) -> None:
    out = tokenize_files(
        [str(corpus / "dedup" / "docs.jsonl")],
        str(tmp_path / "run"),
        str(model),
        shard_tokens=200_000,
        val_fraction=0.1,
        seed=2,
    )
    m = json.loads(Path(out["manifest"]).read_text())
    assert out["encoded_docs"] == 400 and out["dropped"] == {} and out["input"] == 400
    assert m["vocab_size"] == 1500 and m["dtype"] == "uint16"
    assert (tmp_path / "run" / m["tokenizer"]["path"]).read_bytes() == model.read_bytes()  # the set's own copy
    docs = sum(v["documents"] for s in m["per_source"].values() for v in s.values())
    assert docs == 400 and 20 < sum(e["documents"] for e in m["splits"]["val"]) < 80
    cpt = m["per_source"]["train"]["input-jsonl"]["chars_per_token"]  # rows without a source: the command's
    assert 1.5 < cpt < 6
    assert pq.read_table(tmp_path / "run" / m["lineage"]).num_rows == 400
    assert m["documents"] == ["stages/01_tokenize/part-00000.parquet"]


def test_documents_that_do_not_decode_back_are_counted(corpus: Path, tmp_path: Path) -> None:
    from curate.standalone import tokenize_files
    from curate.tokenizer.train import doc_lines, train_sentencepiece

    docs = [json.loads(ln)["text"] for ln in (corpus / "dedup" / "docs.jsonl").read_text("utf-8").splitlines()]
    model = train_sentencepiece((ln for d in docs[:120] for ln in doc_lines(d)), tmp_path / "tok", vocab_size=800)
    texts = docs[200:240]
    for k in range(0, 40, 4):  # symbol-heavy: a sparkline of block elements, then a line spelled with U+2581
        first = texts[k].split("\n", 1)[0]
        texts[k] = "▁▂▃▅▇█▇▅▃▂▁ " + texts[k] + "\n" + first.replace(" ", "\u2581")
    texts[1] = "ﬁ ① ℵ₀ ∑∫√ 👍🏽 " + texts[1]  # other symbols are kept exactly (identity normalisation)
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), "utf-8")
    out = tokenize_files([str(tmp_path / "docs.jsonl")], str(tmp_path / "run"), str(model), seed=3)
    m = json.loads(Path(out["manifest"]).read_text())
    # the 10 documents whose tokens decode to other text are counted and named
    assert out["not_lossless_docs"] == 10 and m["not_lossless"]["docs"] == 10
    import pyarrow.parquet as pq

    kept = pq.read_table(tmp_path / "run" / m["documents"][0]).to_pylist()
    by_id = {r["id"]: r["text"] for r in kept}
    assert len(m["not_lossless"]["examples"]) == 5 and all("\u2581" in by_id[i] for i in m["not_lossless"]["examples"])
