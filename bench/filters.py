"""Filter throughput, single process: docs/s for language ID, heuristics, line cleaning and the quality
classifier, with fastText's native ``f.predict`` loop on the same texts measured in the same run.

Data: the 400 real documents of ``dedup/docs.jsonl`` in the test corpus, repeated ``--repeat`` times.
``--same-as=REV`` also checks that the default chain's outputs are byte-identical to those of git revision
``REV`` (``bench._same_outputs``): a speed-up must not change what is kept, dropped or written.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

from bench._same_outputs import same_as
from bench._stages import run_stage
from bench._timing import interleaved
from curate.filters.classifier import ft_line
from curate.filters.fasttext_util import load_model
from curate.filters.heuristics import HeuristicStage
from curate.filters.langid import LangIdStage, bundled_model_path
from curate.filters.lines import LineCleanStage
from curate.filters.quality import QualityStage
from curate.schema import docs_table
from curate.stage import FitContext
from curate.standalone import DEFAULT_FILTERS


def _rate(fn, n: int, reps: int = 1) -> float:
    return _rates([fn], n, reps)[0]


def _rates(fns: list, n: int, reps: int = 5) -> list[float]:
    """Best-of-``reps`` docs/s of each function (``interleaved`` rounds of CPU time)."""
    times, _ = interleaved({str(i): fn for i, fn in enumerate(fns)}, reps)
    return [n / min(times[str(i)]) for i in range(len(fns))]


def _default_chain(table, workdir: Path):
    """The default ``curate filter`` stages in order, each on the previous one's kept rows, with the fit
    pass of a stage that has one (on the rows it sees, written to Parquet as ``curate filter`` does)."""
    for name, cfg, _only in DEFAULT_FILTERS:
        table = run_stage(name, cfg, table, workdir).kept
    return table


def main(argv: list[str]) -> None:
    repeat = int(next((a.split("=", 1)[1] for a in argv if a.startswith("--repeat=")), "5"))
    corpus = Path(os.environ.get("CURATE_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
    src = {}
    for line in (corpus / "dedup" / "sources.jsonl").open(encoding="utf-8"):
        s = json.loads(line)
        src[s["id"]] = s["source"].get("corpus", "web") if s["kind"] == "original" else "web"
    rows = []
    for k in range(repeat):
        for line in (corpus / "dedup" / "docs.jsonl").open(encoding="utf-8"):
            r = json.loads(line)
            rows.append({"id": f"{r['id']}-{k}", "source": src[r["id"]], "kind": src[r["id"]], "text": r["text"]})
    table = docs_table(rows)
    texts = [r["text"] for r in rows]
    n = len(rows)
    mb = sum(len(t.encode()) for t in texts) / 1e6
    print(f"{n} docs ({mb:.1f} MB), 1 process")

    lid = load_model(bundled_model_path())
    native_lid, ours_lid = _rates(
        [
            lambda: [lid.f.predict(t.replace("\n", " ") + "\n", 1, 0.0, "strict") for t in texts],
            lambda: LangIdStage.from_dict({"languages": ["en"]}).apply(table, None),
        ],
        n,
    )
    print(
        f"langid     ours {ours_lid:9.0f} docs/s   fastText native predict {native_lid:9.0f} docs/s   "
        f"ratio {ours_lid / native_lid:.2f}"
    )

    heur = _rate(lambda: HeuristicStage().apply(table, None), n)
    clean = _rate(lambda: LineCleanStage().apply(table, None), n)
    print(f"heuristics ours {heur:9.0f} docs/s   ({heur * mb / n:.2f} MB/s; no native reference)")
    print(f"clean_lines ours {clean:8.0f} docs/s   ({clean * mb / n:.2f} MB/s; no native reference)")
    with tempfile.TemporaryDirectory() as d:
        chain = _rate(lambda: _default_chain(table, Path(d)), n)
    print(
        f"chain      ours {chain:9.0f} docs/s   ({chain * mb / n:.2f} MB/s; `curate filter` default stages "
        f"{'+'.join(s for s, _, _ in DEFAULT_FILTERS)} with their fit passes, 1 core)"
    )

    with tempfile.TemporaryDirectory() as d:
        part = Path(d) / "part.parquet"
        pq.write_table(docs_table(rows[:400]), part)
        stage = QualityStage.from_dict({"epoch": 5})
        state = stage.fit(FitContext([part], Path(d), 0, lambda fn, items: [fn(x) for x in items], log=lambda s: None))
        q = load_model(state["model"])
        mc = stage.config.max_chars
        native_q, ours_q = _rates(
            [
                lambda: [q.f.predict(ft_line(t, mc).replace("\n", " ") + "\n", 2, 0.0, "strict") for t in texts],
                lambda: stage.apply(table, state),
            ],
            n,
        )
    print(
        f"quality    ours {ours_q:9.0f} docs/s   fastText native predict {native_q:9.0f} docs/s   "
        f"ratio {ours_q / native_q:.2f}   (held-out AUC {state['summary']['auc']:.3f})"
    )
    rev = next((a.split("=", 1)[1] for a in argv if a.startswith("--same-as=")), None)
    if rev:
        same_as(rev, corpus)
