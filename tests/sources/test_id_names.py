"""Document ids do not depend on where the inputs lie (``curate.sources.idnames``): the same files under two
different directories give the same ids, and so the same dedup survivors (checked here) and everything else
decided by id (the quality hold-out, a mixture's draws). Two inputs of one source that would share a name keep
distinct ids.
Inputs: real WARC, JSONL (the planted near-duplicate set), book, wiki and code files, copied.
"""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import pyarrow.parquet as pq

from curate.pipeline import Pipeline
from curate.sources.base import Unit
from curate.sources.idnames import id_location, id_name, unique_id_names
from curate.sources.safe import InputPath


def _lay_out(corpus: Path, top: Path) -> None:
    """The inputs under ``top``: files at two depths, so roots and names below them both count."""
    (top / "web" / "crawl").mkdir(parents=True)
    shutil.copy(corpus / "web" / "whirlwind.warc.gz", top / "web" / "crawl")
    shutil.copy(corpus / "dedup" / "docs.jsonl", top / "web")
    (top / "books").mkdir()
    for name in ("11-0.txt", "pg84.txt"):
        shutil.copy(corpus / "books" / name, top / "books")
    shutil.copy(corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2", top)
    shutil.copytree(Path(sysconfig.get_paths()["stdlib"]) / "json", top / "code" / "json")


def _run(top: Path, out: Path) -> list[tuple[str, str]]:
    recipe = {
        "name": "ids",
        "workers": 0,
        "stages": [{"dedup_exact": {}}],
        "sources": [
            {"name": "crawl", "kind": "web", "format": "warc", "paths": [str(top / "web" / "*" / "*.warc.gz")]},
            {"name": "pages", "kind": "web", "format": "jsonl", "paths": [str(top / "web" / "docs.jsonl")]},
            {"name": "books", "kind": "books", "format": "text", "paths": [str(top / "books" / "*.txt")]},
            {
                "name": "wiki",
                "kind": "wiki",
                "format": "mediawiki",
                "paths": [str(top / "wiki-sample-pages-articles.xml.bz2")],
            },
            {"name": "code", "kind": "code", "format": "code", "paths": [str(top / "code")]},
        ],
    }
    Pipeline.from_dict(recipe).run(out=out, workers=0, log=lambda m: None)
    last = sorted((out / "stages").iterdir())[-1]  # dedup_exact's kept rows
    rows = [r for p in sorted(last.glob("part-*.parquet")) for r in pq.read_table(p).to_pylist()]
    return [(r["source"], r["id"]) for r in rows]


def test_the_same_inputs_elsewhere_give_the_same_ids(corpus: Path, tmp_path: Path) -> None:
    _lay_out(corpus, tmp_path / "here")
    _lay_out(corpus, tmp_path / "mounted" / "elsewhere" / "there")
    here = _run(tmp_path / "here", tmp_path / "run1")
    there = _run(tmp_path / "mounted" / "elsewhere" / "there", tmp_path / "run2")
    assert {s for s, _ in here} == {"crawl", "pages", "books", "wiki", "code"}
    assert len({i for _, i in here}) == len(here) > 100
    assert here == there


def test_inputs_sharing_a_name_keep_distinct_ids(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "dedup" / "docs.jsonl").read_text(encoding="utf-8").splitlines()[:30]
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "docs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = Pipeline.from_dict(
        {
            "name": "ids",
            "workers": 0,
            "stages": [{"dedup_exact": {}}],
            "sources": [  # two roots, one file name: both would be "docs.jsonl"
                {
                    "name": "docs",
                    "kind": "web",
                    "format": "jsonl",
                    "paths": [str(tmp_path / "a" / "docs.jsonl"), str(tmp_path / "b" / "*.jsonl")],
                }
            ],
        }
    ).run(out=tmp_path / "run", workers=0, log=lambda m: None)
    read, exact = summary["stages"]
    assert (read["in"], read["kept"]) == (60, 60)
    assert (exact["in"], exact["kept"], exact["dropped"]) == (60, 30, {"dedup:exact": 30})


def test_names() -> None:
    assert id_name(InputPath("/data/crawl/a/x.warc", "/data/crawl")) == "a/x.warc"
    assert id_name(InputPath("/data/x.warc", "/data/x.warc")) == "x.warc"
    assert id_name(InputPath("s3://bucket/x.warc", "s3://bucket/x.warc")) == "s3://bucket/x.warc"
    assert id_name("/data/x.warc") == "/data/x.warc"  # read directly, not matched by a pattern: as given
    assert id_location(InputPath("/data/repo/", "/data/repo/"), "/data/repo/lib/a.py") == "repo/lib/a.py"
    assert id_location(InputPath("/data/x.warc", "/data"), "/data/x.warc@12+3") == "x.warc@12+3"
    units = [Unit(InputPath(f"/{d}/x.warc", f"/{d}")) for d in "ab"] + [Unit(InputPath("/b/y.warc", "/b"))]
    assert [id_name(u.path) for u in unique_id_names(units)] == ["/a/x.warc", "/b/x.warc", "y.warc"]
