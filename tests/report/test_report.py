"""report.html on a real run: full ids, a count bar and examples for every drop reason, timings true across
resumes, titles true to the recipe, every value escaped (never markup or math), bounded for many sources; a
damaged trainer metrics file costs only its own section.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest

from curate.executor import LocalExecutor
from curate.pipeline import Pipeline
from curate.recipe import parse_recipe
from curate.report import write_report
from curate.runner import Runner
from tests.support.recipes import QUIET, books_recipe


def _recipe(corpus: Path, languages: list[str] | None = ("en",)) -> dict:
    return {
        "name": "report",
        "seed": 1,
        "workers": 0,
        "sources": [
            {
                "name": "docs",
                "kind": "web",
                "format": "documents-jsonl",
                "paths": [str(corpus / "dedup" / "docs.jsonl")],
            },
            {
                "name": "wiki",
                "kind": "wiki",
                "format": "mediawiki",
                "paths": [str(corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2")],
            },
            {
                "name": "books",
                "kind": "books",
                "format": "text",
                "paths": [str(corpus / "books" / "pg1497.txt"), str(corpus / "books" / "pg84.txt")],
            },
        ],
        "stages": [{"langid": {"languages": list(languages)} if languages else {}}, {"dedup": {"threshold": 0.8}}],
    }


@pytest.fixture(scope="module", autouse=True)
def task_per_file():
    """A read task per input file (small files are otherwise packed into one): the tests merge several
    tasks' examples and stop a run between tasks."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("curate.runplan.MAX_UNITS_PER_TASK", 1)
        yield


@pytest.fixture(scope="module")
def run(corpus: Path, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("report") / "r"
    s = Pipeline.from_dict(_recipe(corpus)).run(out=out, workers=0, log=lambda m: None)
    return out, s


def _ids(run: Path) -> set[str]:
    out: set[str] = set()
    for root in ("stages", "dropped"):
        for d in (run / root).iterdir():
            out.update(ds.dataset(d).to_table(columns=["id"]).column("id").to_pylist())
    return out


def test_report_shows_full_ids(run):
    out, _ = run
    page = (out / "report.html").read_text()
    shown = [html.unescape(x) for x in re.findall(r"<code>(.*?)</code>", page)]
    dedup = page[page.index("<h2>Deduplication</h2>") :]
    kept = [html.unescape(x) for x in re.findall(r"<tr><td>([0-9a-z]+)</td><td>(?:docs|wiki|books)</td>", dedup)]
    ids = _ids(out)
    assert shown and kept and set(shown + kept) <= ids | {""}  # whole ids, each found in the run's data
    assert any(len(i) > 12 for i in shown) and any(len(i) > 12 for i in kept)
    assert "overflow-wrap:anywhere" in page  # long ids wrap instead of being cut


def test_every_drop_reason_has_a_count_bar_and_examples_from_the_tasks(run):
    out, s = run
    page = (out / "report.html").read_text()
    section = page[page.index("<h2>Drop reasons</h2>") : page.index("<h2>", page.index("<h2>Drop reasons</h2>") + 5)]
    for st in s["stages"]:
        reasons = {**st["dropped"], **st["errors"]}
        assert set(st["examples"]) == set(reasons), st["dir"]
        dropped = ds.dataset(out / "dropped" / st["dir"]).to_table(columns=["id", "source", "text", "reason"])
        for reason, n in reasons.items():
            assert f"<td>{html.escape(reason)}</td><td>{n:,}</td><td class=barcell><div class=bar" in section
            examples = st["examples"][reason]
            assert len(examples) == min(3, n)
            rows = dropped.filter(pc.equal(dropped.column("reason"), reason)).to_pylist()
            for rid, src, text in examples:
                match = [r for r in rows if r["id"] == rid and r["source"] == src]
                assert match, (reason, rid)
                if match[0]["text"]:  # the snippet is the start of the dropped text, whitespace folded
                    assert " ".join(match[0]["text"].split()).startswith(text)
                assert f"<code>{html.escape(rid)}</code> ({html.escape(src)}): {html.escape(text)}" in section
    assert "Drop reasons" in page and st["dropped"]["dedup:near"] > 3


def test_titles_follow_the_recipe(run, corpus, tmp_path):
    out, _ = run
    assert "entering the language filter (keeps en)</p>" in (out / "report.html").read_text()
    s = Pipeline.from_dict(_recipe(corpus, languages=None)).run(out=tmp_path / "all", workers=0, log=lambda m: None)
    assert not s["stages"][1]["dropped"]
    page = (tmp_path / "all" / "report.html").read_text()
    assert "langid keeps every language (no languages list)</p>" in page
    assert "entering the language filter" not in page


def test_resumed_run_shows_the_time_stages_took_when_they_ran(run, tmp_path):
    out, first = run
    again = tmp_path / "again"
    shutil.copytree(out, again)
    second = Pipeline.from_dict(json.loads((out / "recipe.json").read_text())["recipe"]).run(
        out=again, workers=0, log=lambda m: None
    )
    assert all(st["reused"] for st in second["stages"])
    assert [st["seconds"] for st in second["stages"]] == [st["seconds"] for st in first["stages"]]
    assert second["stage_seconds"] == pytest.approx(sum(st["seconds"] for st in first["stages"]), abs=0.02)
    page = (again / "report.html").read_text()
    assert f"stages took {second['stage_seconds']:,.1f} s when they ran" in page
    assert "reused from an earlier run" in page and "reused (ran earlier)" in page


class _Interrupted(LocalExecutor):
    """Stops the run with Ctrl-C after ``n`` tasks finished (what a user's interrupt does)."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def imap(self, fn, items, *shared, **kw):
        for k, item in enumerate(super().imap(fn, items, *shared, **kw)):
            if k == self.n:
                raise KeyboardInterrupt
            yield item


def test_interrupted_segment_keeps_the_time_it_had_spent(corpus, tmp_path):
    recipe = parse_recipe(_recipe(corpus))
    with pytest.raises(KeyboardInterrupt):
        Runner(recipe, tmp_path / "r", _Interrupted(2), log=lambda m: None).run()
    spent = json.loads((tmp_path / "r" / "_state" / "01_langid" / "spent.json").read_text())["seconds"]
    assert spent > 0
    s = Runner(recipe, tmp_path / "r", LocalExecutor(), log=lambda m: None).run()
    read = s["stages"][0]
    assert read["resumed_parts"] == 2 and read["segment_seconds"] >= spent  # earlier run's time included
    assert not (tmp_path / "r" / "_state" / "01_langid" / "spent.json").exists()


def _edited_copy(run: Path, tmp: Path, edit) -> Path:
    dst = tmp / "copy"
    shutil.copytree(run, dst)
    summary = json.loads((dst / "summary.json").read_text())
    edit(summary)
    (dst / "summary.json").write_text(json.dumps(summary))
    return dst


def test_every_value_is_escaped_never_markup_or_math(run, tmp_path):
    out, _ = run
    hostile = "$\\frac{wiki$ <script>alert(1)</script> \\x1b[31m"  # the real source name, damaged

    def edit(summary: dict) -> None:
        summary["recipe"] = f"report {hostile}"
        for st in summary["stages"]:
            st["by_source"] = {hostile if k == "wiki" else k: v for k, v in st["by_source"].items()}
            for rows in st["examples"].values():
                for ex in rows:
                    ex[1] = hostile if ex[1] == "wiki" else ex[1]
            st["dropped"] = {f"{r} {hostile}" if r.startswith("lang:") else r: n for r, n in st["dropped"].items()}

    page = write_report(_edited_copy(out, tmp_path, edit)).read_text()
    assert "not shown" not in page
    for section in ("Stages", "Drop reasons", "Languages", "Deduplication"):
        assert f"<h2>{section}</h2>" in page
    assert page.count("<svg") >= 3  # the charts whose labels hold the name were drawn
    assert "<script>" not in page and html.escape(hostile) in page


def test_many_sources_are_summed_into_others(run, corpus, tmp_path):
    out, _ = run
    text = "".join((corpus / "books" / b).read_text(errors="replace") for b in ("pg1497.txt", "pg84.txt"))
    words = sorted(set(re.findall(r"[A-Za-z]{3,}", text)))  # real words as source names
    names = words[:10_000]
    assert len(names) == 10_000

    def edit(summary: dict) -> None:
        for st in summary["stages"]:
            st["by_source"] = {
                n: {"in": 1 + i % 7, "kept": 1 + i % 5, "dropped": 0, "errors": 0} for i, n in enumerate(names)
            }

    page = write_report(_edited_copy(out, tmp_path, edit)).read_text()
    assert "not shown" not in page, re.findall("not shown[^<]*", page)
    assert "others (9,950)" in page  # the by-source table: 50 sources a stage, then the rest summed
    assert page.count("<tr>") < 500 and len(page) < 2_000_000


def test_examples_do_not_depend_on_the_order_tasks_finish_in(run, monkeypatch):
    import curate.tally as tally_mod
    from curate.tally import Tally

    out, s = run
    stats = [json.loads(p.read_text()) for p in sorted((out / "_state" / "01_langid" / "parts").glob("*.json"))]
    assert len(stats) > 1
    monkeypatch.setattr(tally_mod, "EXAMPLE_REASONS", 4)  # fewer than the run's reasons: the cap is exercised
    results = []
    for order in (list(range(len(stats))), list(reversed(range(len(stats))))):
        totals = [Tally() for _ in stats[0]["steps"]]
        for i in order:
            for t, st in zip(totals, stats[i]["steps"]):
                t.merge(st, i)
        results.append([t.summary()["examples"] for t in totals])
    assert results[0] == results[1] and len(results[0][1]) == 4
    assert results[0][1] == {r: s["stages"][1]["examples"][r] for r in sorted(s["stages"][1]["examples"])[:4]}


def test_a_damaged_trainer_metrics_file_costs_its_report_section_only(corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    Pipeline.from_dict(books_recipe(corpus)).run(out=run, **QUIET)
    (run / "trainer").mkdir()
    (run / "trainer" / "metrics.json").write_text('{"train": [[1, 2.5], [2')  # a trainer killed mid-write
    from curate.report import write_report

    page = write_report(run).read_text()
    assert "not shown: JSONDecodeError" in page and "Stages" in page
