"""Byte-identical filter outputs across revisions: ``python -m bench filters --same-as=REV``.

Runs the default ``curate filter`` stages (each with its fit pass, each on the previous one's kept rows) over
real documents of the test corpus in this checkout and in ``git archive REV``, each in its own process
importing its own tree, and compares every stage's kept, dropped and errored tables and counters. A speed-up
that claims no output change is checked by this against the revision before it.

Data: the 400 documents of ``dedup/docs.jsonl``, the 60 CJK pages of ``cjk/docs.jsonl`` and the books of
``books/`` cut into 20,000-character parts.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rows(corpus: Path) -> list[dict]:
    src = {}
    for line in (corpus / "dedup" / "sources.jsonl").open(encoding="utf-8"):
        s = json.loads(line)
        src[s["id"]] = s["source"].get("corpus", "web") if s["kind"] == "original" else "web"
    rows = [
        {"id": r["id"], "source": src[r["id"]], "kind": src[r["id"]], "text": r["text"]}
        for r in map(json.loads, (corpus / "dedup" / "docs.jsonl").open(encoding="utf-8"))
    ]
    rows += [
        {"id": r["id"], "source": "web", "kind": "web", "url": r.get("url"), "text": r["text"]}
        for r in map(json.loads, (corpus / "cjk" / "docs.jsonl").open(encoding="utf-8"))
    ]
    for b in map(json.loads, (corpus / "books" / "books.jsonl").open(encoding="utf-8")):
        raw = (corpus / "books" / b["file"]).read_bytes()
        text = raw.decode("cp1252" if "1252" in b["encoding"] else "utf-8-sig").replace("\r\n", "\n")
        rows += [
            {"id": f"{b['file']}:{i}", "source": "books", "kind": "books", "text": text[i : i + 20000]}
            for i in range(0, len(text), 20000)
        ]
    return rows


def dump(corpus: Path, out: Path) -> None:
    """Run the default filter stages of the tree this process imports ``curate`` from; write their results."""
    import pyarrow.parquet as pq

    from curate.standalone import DEFAULT_FILTERS as DEFAULT_STAGES
    from curate.registry import stage_class
    from curate.schema import docs_table
    from curate.stage import FitContext, Stage

    table = docs_table(_rows(corpus))
    for k, (name, cfg, _only) in enumerate(DEFAULT_STAGES):
        stage = stage_class(name).from_dict(cfg)
        state = None
        if type(stage).fit is not Stage.fit:
            work = out / f"work{k}"
            work.mkdir()
            pq.write_table(table, work / "part.parquet")
            state = stage.fit(
                FitContext(
                    [work / "part.parquet"], work, 0, lambda fn, items: [fn(x) for x in items], log=lambda s: None
                )
            )
        res = stage.apply(table, state)
        for part in ("kept", "dropped", "errors"):
            pq.write_table(getattr(res, part), out / f"{k}.{name}.{part}.parquet")
        (out / f"{k}.{name}.counters.json").write_text(json.dumps(res.counters, sort_keys=True))
        table = res.kept


def _run(tree: Path, corpus: Path, out: Path) -> None:
    """``dump`` in a process that imports ``curate`` from ``tree`` (this file runs there as a script)."""
    out.mkdir()
    subprocess.run([sys.executable, __file__, str(corpus), str(out)], cwd=tree, check=True)


def differences(a: Path, b: Path) -> list[str]:
    """Names of the result files that differ between two dumps (or exist in one only)."""
    import pyarrow.parquet as pq

    out = []
    for name in sorted({p.name for p in a.glob("*.*")} | {p.name for p in b.glob("*.*")}):
        pa_, pb = a / name, b / name
        if not (pa_.exists() and pb.exists()):
            out.append(f"{name} (in one only)")
        elif not (
            pa_.read_text() == pb.read_text()
            if name.endswith(".json")
            else pq.read_table(pa_).equals(pq.read_table(pb))
        ):
            out.append(name)
    return out


def same_as(rev: str, corpus: Path) -> None:
    """Print whether this checkout's default filter chain gives the same outputs as ``rev``'s."""
    with tempfile.TemporaryDirectory() as d:
        old = Path(d) / "tree"
        old.mkdir()
        archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(old, filter="data")
        _run(old, corpus, Path(d) / "old")
        _run(ROOT, corpus, Path(d) / "new")
        files = sorted(p.name for p in (Path(d) / "new").glob("*.*"))
        diff = differences(Path(d) / "old", Path(d) / "new")
        n = len(_rows(corpus))
        print(
            f"same outputs as {rev}: {len(files) - len(diff)}/{len(files)} result files of the default chain "
            f"byte-identical on {n} real documents" + (f"; DIFFERENT: {', '.join(diff)}" if diff else "")
        )


if __name__ == "__main__":  # run by ``_run`` with the tree to import as the working directory
    sys.path[0] = str(Path.cwd())  # the tree's curate, not this folder's modules
    dump(Path(sys.argv[1]), Path(sys.argv[2]))
