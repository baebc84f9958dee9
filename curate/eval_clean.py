"""``python -m curate eval-clean``: score a cleaner against line-labelled documents.

Labels are one JSON record per document (``id``, ``doc_label`` good/bad, ``lines``: ``text``, ``label``
keep/junk/unsure, optional ``inline_spam``), as in ``shared/corpus/cjk/labels.jsonl``. The team's metric:
a labelled line counts as kept when its text with all whitespace removed occurs in the output document's
text with all whitespace removed; lines under 4 such characters, ``unsure`` lines and ``inline_spam`` keep
lines are skipped; line figures are over documents labelled good, and a good document dropped whole loses
all its lines. Per language (the input document's ``lang`` field, else its label's, else the output's
``meta.lang``; ``und`` for a dropped document without one):
good documents kept, bad documents dropped, article (keep) lines kept, junk lines removed.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import defaultdict
from pathlib import Path
from statistics import mean
from typing import Any

import pyarrow.parquet as pq

from curate.schema import decode_meta

MIN_LINE_CHARS = 4
_WS = re.compile(r"\s+")
METRICS = ("good_kept", "bad_dropped", "keep_lines_kept", "junk_lines_removed")


def squash(s: str) -> str:
    return _WS.sub("", s)


def read_jsonl(path: Path, skip_bad: bool = False) -> list[dict]:
    """The JSON objects of a JSONL file; a line that is not one is a ValueError naming the file and line
    (skipped with ``skip_bad``: a filter input, whose bad lines the filter run counts)."""
    out = []
    with Path(path).open("rb") as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw.decode("utf-8"))
            except ValueError as e:  # not UTF-8, or not JSON
                if skip_bad:
                    continue
                raise ValueError(f"{path}, line {n}: not a JSON line ({e})") from None
            if not isinstance(rec, dict):
                if skip_bad:
                    continue
                raise ValueError(f"{path}, line {n}: expected a JSON object, got {type(rec).__name__}")
            out.append(rec)
    return out


def read_labels(path: Path) -> list[dict]:
    """The label records of ``path``, each checked: ``id`` (string), ``doc_label`` good/bad, ``lines`` of
    ``text`` and ``label`` keep/junk/unsure; a record that is not is a ValueError naming the line."""
    labels = read_jsonl(path)
    for n, rec in enumerate(labels, 1):
        lines = rec.get("lines", [])
        ok = (
            isinstance(rec.get("id"), str)
            and rec.get("doc_label") in ("good", "bad")
            and isinstance(lines, list)
            and all(
                isinstance(x, dict) and isinstance(x.get("text"), str) and x.get("label") in ("keep", "junk", "unsure")
                for x in lines
            )
        )
        if not ok:
            raise ValueError(
                f"{path}: label record {n} (id {rec.get('id')!r}) needs id, doc_label good|bad and "
                "lines [{text, label keep|junk|unsure}]"
            )
        rec.setdefault("lines", [])
    return labels


def read_output(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(input id -> text, input id -> meta.lang) of the kept documents of a filter output (.parquet or .jsonl)."""
    path = Path(path)
    if path.suffix == ".parquet":
        t = pq.read_table(path, columns=["id", "text", "meta"])
        rows = [
            {"id": i, "text": x, "meta": decode_meta(m)}
            for i, x, m in zip(t["id"].to_pylist(), t["text"].to_pylist(), t["meta"].to_pylist())
        ]
    else:
        rows = read_jsonl(path)
    if not all(isinstance(r.get("id"), str) and isinstance(r.get("text"), str) for r in rows):
        raise ValueError(f"{path}: not a filter output (every row needs a string id and text)")
    for r in rows:  # labels name the input's ids, which curate keeps as meta.source_id
        meta = r.get("meta") if isinstance(r.get("meta"), dict) else {}
        r["id"] = meta["source_id"] if isinstance(meta.get("source_id"), str) else r["id"]
    texts = {r["id"]: r["text"] for r in rows}
    langs = {r["id"]: str(r["meta"]["lang"]) for r in rows if isinstance(r.get("meta"), dict) and r["meta"].get("lang")}
    return texts, langs


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def score(
    labels: list[dict], kept: dict[str, str], langs: dict[str, str], per_doc: list | None = None
) -> dict[str, dict[str, Any]]:
    """Per-language (and ``all``) counts and ratios of the four figures; ``per_doc`` (a list) receives
    one ``(id, doc_label, kept, keep_ok, keep, junk_ok, junk)`` row per document."""
    acc: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for rec in labels:
        before = dict(acc["all"])
        did = rec["id"]
        lang = langs.get(did) or rec.get("lang") or "und"
        out = kept.get(did)
        for key in (lang, "all"):
            a = acc[key]
            a["docs"] += 1
            if rec["doc_label"] == "bad":
                a["bad"] += 1
                a["bad_dropped"] += out is None
                continue
            a["good"] += 1
            a["good_kept"] += out is not None
        if rec["doc_label"] == "bad":
            if per_doc is not None:
                per_doc.append((did, "bad", out is not None, 0, 0, 0, 0))
            continue
        hay = squash(out) if out is not None else ""
        for line in rec["lines"]:
            s = squash(line["text"])
            if len(s) < MIN_LINE_CHARS or line["label"] == "unsure":
                continue
            if line["label"] == "keep":
                if line.get("inline_spam"):
                    continue
                field, hit = "keep", s in hay
            else:
                field, hit = "junk", s not in hay
            for key in (lang, "all"):
                acc[key][field] += 1
                acc[key][f"{field}_ok"] += hit
        if per_doc is not None:
            d = {k: acc["all"].get(k, 0) - before.get(k, 0) for k in ("keep_ok", "keep", "junk_ok", "junk")}
            per_doc.append((did, rec["doc_label"], out is not None, d["keep_ok"], d["keep"], d["junk_ok"], d["junk"]))
    result = {}
    for key in sorted(acc, key=lambda k: (k == "all", k)):
        a = acc[key]
        result[key] = {
            "docs": a["docs"],
            "good_kept": _ratio(a["good_kept"], a["good"]),
            "bad_dropped": _ratio(a["bad_dropped"], a["bad"]),
            "keep_lines_kept": _ratio(a["keep_ok"], a["keep"]),
            "junk_lines_removed": _ratio(a["junk_ok"], a["junk"]),
            "counts": {
                k: a[k] for k in ("good", "good_kept", "bad", "bad_dropped", "keep", "keep_ok", "junk", "junk_ok")
            },
        }
    return result


def table(result: dict[str, dict[str, Any]]) -> str:
    """A fixed-width table: one row per language, ``all`` last."""
    head = f"{'lang':6} {'docs':>5} " + " ".join(f"{m:>18}" for m in METRICS)
    rows = [head]
    for lang, r in result.items():
        cells = " ".join(f"{'-' if r[m] is None else format(r[m], '.3f'):>18}" for m in METRICS)
        rows.append(f"{lang:6} {r['docs']:>5} {cells}")
    return "\n".join(rows)


def eval_clean(
    labels_path: str | Path,
    input_path: str | Path | None = None,
    output_path: str | Path | None = None,
    recipe_path: str | Path | None = None,
    per_doc: list | None = None,
) -> dict[str, Any]:
    """Score ``output_path`` (a filter output), or run the filter chain (default, or ``recipe_path``'s)
    on ``input_path`` first. Returns ``{"scores": {lang: ...}, "filter": report or None}``."""
    for what, p in (("labels", labels_path), ("input", input_path), ("output", output_path)):
        if p is not None and not Path(p).is_file():
            raise FileNotFoundError(f"eval-clean: no {what} file at {p}")
    labels = read_labels(Path(labels_path))
    langs: dict[str, str] = {r["id"]: r["lang"] for r in labels if r.get("lang")}
    report = None
    if input_path is not None and str(input_path).endswith(".jsonl"):
        langs.update(
            {
                r["id"]: r["lang"]
                for r in read_jsonl(Path(input_path), skip_bad=True)
                if isinstance(r.get("id"), str) and isinstance(r.get("lang"), str)
            }
        )
    if output_path is None:
        if input_path is None:
            raise ValueError("eval-clean needs --input (to run the filters) or --filtered (to score)")
        from curate.runner import NoDocuments
        from curate.standalone import run_filters

        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "kept.parquet"
            try:
                report = run_filters(input_path, out, recipe_path=recipe_path, dropped_path=Path(d) / "dropped.parquet")
                kept, out_langs = read_output(out)
            except NoDocuments as e:  # the chain dropped every document before its last stage: a score, not a failure
                report, kept, out_langs = {"failed": str(e)}, {}, {}
    else:
        kept, out_langs = read_output(Path(output_path))
    langs = {**out_langs, **langs}  # the input's language field first, else langid's meta.lang
    return {"scores": score(labels, kept, langs, per_doc), "filter": report}


def _fold_rows(input_path: Path, field: str) -> dict[str, list[dict]]:
    """The input's documents grouped by ``field`` (a document without it is its own fold ``?``), in order."""
    folds: dict[str, list[dict]] = defaultdict(list)
    for rec in read_jsonl(input_path, skip_bad=True):
        folds[str(rec.get(field) or "?")].append(rec)
    return dict(folds)


def cross_validate(
    labels_path: str | Path, input_path: str | Path, recipe_path: str | Path | None = None, field: str = "origin_repo"
) -> dict[str, Any]:
    """Leave-one-source-out: the documents of each ``field`` value (an origin repository or site) are filtered
    as a run of their own, as unseen data would be (a stage's ``fit`` pass sees only that fold; no threshold is
    fitted to labels: they are set by hand, so every fold is a held-out fold) and scored alone. Returns
    ``{"folds": {name: scores}, "worst": {lang: {metric: value}}, "mean": ...}``: per language, the worst
    fold's and the mean fold's value of each metric, over the folds that have documents for it."""
    for what, p in (("labels", labels_path), ("input", input_path)):
        if not Path(p).is_file():
            raise FileNotFoundError(f"eval-clean: no {what} file at {p}")
    labels = {r["id"]: r for r in read_labels(Path(labels_path))}
    folds = {}
    with tempfile.TemporaryDirectory() as d:
        for name, rows in sorted(_fold_rows(Path(input_path), field).items()):
            path = Path(d) / f"fold{len(folds)}.jsonl"
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
            lab = Path(d) / f"labels{len(folds)}.jsonl"
            lab.write_text(
                "".join(json.dumps(labels[r["id"]], ensure_ascii=False) + "\n" for r in rows if r.get("id") in labels),
                encoding="utf-8",
            )
            folds[name] = eval_clean(lab, input_path=path, recipe_path=recipe_path)["scores"]
    worst: dict[str, dict[str, float | None]] = {}
    avg: dict[str, dict[str, float | None]] = {}
    langs = sorted({lang for f in folds.values() for lang in f}, key=lambda k: (k == "all", k))
    for lang in langs:
        vals = {m: [f[lang][m] for f in folds.values() if lang in f and f[lang][m] is not None] for m in METRICS}
        worst[lang] = {m: min(v) if v else None for m, v in vals.items()}
        avg[lang] = {m: round(mean(v), 4) if v else None for m, v in vals.items()}
    return {"folds": folds, "worst": worst, "mean": avg}


def cv_table(res: dict[str, Any]) -> str:
    """Per fold its ``all`` row, then per language the worst fold and the mean over folds."""

    def cells(r: dict) -> str:
        return " ".join(f"{'-' if r.get(m) is None else format(r[m], '.3f'):>18}" for m in METRICS)

    rows = [f"{'fold':34} {'docs':>5} " + " ".join(f"{m:>18}" for m in METRICS)]
    for name, f in res["folds"].items():
        rows.append(f"{name[:34]:34} {f['all']['docs']:>5} {cells(f['all'])}")
    for what in ("worst", "mean"):
        for lang, r in res[what].items():
            rows.append(f"{what + ' fold ' + lang:34} {'':>5} {cells(r)}")
    return "\n".join(rows)
