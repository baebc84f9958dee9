"""``meta`` is a typed JSON object in a string column: values keep their types through every stage's
helpers, anything JSON cannot hold is mapped explicitly, and old Arrow-map files still decode."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from curate.filters._stage import Verdict, run_docs
from curate.schema import DOC_SCHEMA, META_TYPE, decode_meta, docs_table, encode_meta, meta_dicts, set_meta, with_reason
from tests.support.docs import corpus_docs


@pytest.fixture(scope="module")
def rows(corpus: Path) -> list[dict]:
    return corpus_docs(corpus)[:4]


def test_typed_values_survive_tables_set_meta_and_run_docs(rows) -> None:
    t = docs_table(
        [
            {
                **r,
                "meta": {
                    **r["meta"],
                    "score": np.float32(0.25),
                    "n": np.int64(3),
                    "ok": True,
                    "nan": float("nan"),
                    "tags": ("a", 1),
                },
            }
            for r in rows
        ]
    )
    assert t.schema.field("meta").type == META_TYPE == pa.string() and t.schema == DOC_SCHEMA
    m = meta_dicts(t)[0]
    assert m["score"] == 0.25 and m["n"] == 3 and m["ok"] is True and m["nan"] is None and m["tags"] == ["a", 1]
    t = set_meta(t, [{"repeat": i} for i in range(t.num_rows)])
    assert [x["repeat"] for x in meta_dicts(t)] == list(range(t.num_rows))
    res = run_docs(
        t,
        "probe",
        lambda text, meta, did: Verdict(
            None if meta["repeat"] % 2 else "probe:even", {"chars": len(text), "frac": 0.5}
        ),
    )
    assert [x["chars"] for x in meta_dicts(res.kept)] == [len(r["text"]) for r in rows[1::2]]
    assert all(type(x["frac"]) is float for x in meta_dicts(res.dropped))
    assert json.loads(with_reason(res.kept, "x").column("meta")[0].as_py())["repeat"] == 1


def test_surrogates_deep_nesting_and_legacy_maps() -> None:
    text = encode_meta({"k": "\udc00", "café": "ü"})
    text.encode("utf-8")  # storable: the lone surrogate is escaped, the rest stays readable
    assert decode_meta(text) == {"k": "\udc00", "café": "ü"} and "café" in text
    deep: dict = {}
    cur = deep
    for _ in range(5000):
        cur["a"] = {}
        cur = cur["a"]
    with pytest.raises(RecursionError):
        encode_meta(deep)
    assert decode_meta([("lang", "en"), ("lang_score", "0.9")]) == {"lang": "en", "lang_score": "0.9"}
    assert decode_meta("[1, 2]") == {} and decode_meta("not json") == {} and decode_meta(None) == {}
