"""GPT-3 quality classifier (Brown et al. 2020, Appendix A) as a pipeline stage.

``fit`` trains a fastText classifier with reference text (``positives``: wiki and books by default) as
high quality and raw web text (``negatives``) as low quality, evaluates it on a held-out split of
documents (precision/recall at 0.5, ROC AUC), and saves ``quality.bin`` plus ``quality_eval.json`` in the
stage directory. ``apply`` scores rows of ``score_kinds`` and keeps a document when
``np.random.pareto(alpha) > 1 - score`` (alpha 9, as in GPT-3), the draw seeded by (recipe seed, doc id);
``mode: threshold`` keeps ``score >= threshold`` instead. ``target_keep_rate`` calibrates alpha (or the
threshold) to keep that share of the scored documents, ``target_tokens`` to keep about that many tokens
of them (utf-8 bytes / ``bytes_per_token``, the planner's estimate: the tokenizer is trained later, on the
filtered mix; counted before dedup); both score every such document in ``fit`` to calibrate on them. Scores go
into ``meta.quality_score`` / ``meta.quality_keep``.

Nothing per document reaches the driver beyond bounded samples: the training/held-out sample is the global
bottom-``max_docs_per_class`` of each class by hash of (seed, id) (tasks count the classes, then return only
documents under a hash cut of about k + 6 sigma; with ``model:`` given they return held-out scores, no text);
calibration merges fixed-size score histograms written by the tasks (``filters.classifier.score_histogram``),
and a threshold is refined by a second histogram of the one bin the cut falls in.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from curate.batches import read_batches
from curate.config import PATH, SOURCES_OR_KINDS, bounds
from curate.filters._stage import Verdict, run_docs
from curate.filters.classifier import (
    HIST_BINS,
    HIST_EDGES,
    NEG,
    POS,
    auc,
    chunks,
    doc_hash,
    expected_keep_rate,
    ft_line,
    hist_alpha,
    hist_keep_rates,
    kept_shares,
    pareto_keep,
    precision_recall,
    score_histogram,
)
from curate.filters.fasttext_util import load_model, predict_labels
from curate.schema import split_by_source
from curate.stage import FitContext, Stage, StageResult


def score(model: Any, text: str, max_chars: int) -> float:
    """P(high quality) for one document."""
    return predict_labels(model, ft_line(text, max_chars)).get(POS, 0.0)


def _classes(t: pa.Table, positives: list[str], negatives: list[str]) -> Iterator[tuple[str, list, list]]:
    """(label, ids, texts) of the non-empty documents of each class in one batch."""
    for label, names in ((POS, positives), (NEG, negatives)):
        sub = split_by_source(t, names)[0]
        keep = [(i, x) for i, x in zip(sub["id"].to_pylist(), sub["text"].to_pylist()) if x and x.strip()]
        yield label, [i for i, _ in keep], [x for _, x in keep]


def _count_part(path: str, positives: list[str], negatives: list[str]) -> dict[str, int]:
    """Documents of each class in one part (for the sampling cut)."""
    n = {POS: 0, NEG: 0}
    for t in read_batches(path, ["id", "source", "kind", "text"]):
        for label, ids, _ in _classes(t, positives, negatives):
            n[label] += len(ids)
    return n


def _sample_part(
    path: str,
    positives: list[str],
    negatives: list[str],
    seed: int,
    cuts: dict[str, int],
    model_path: str | None,
    test_fraction: float,
    max_chars: int,
) -> list[tuple]:
    """``(hash, label, id, text, score, utf-8 bytes)`` of each document of one part whose hash is below its class's cut:
    a superset of the global bottom-k, the same whatever the partitioning. With a saved model, no text comes
    back: held-out documents come back scored, the others as hashes only (they only place the cut)."""
    model = load_model(model_path) if model_path else None
    out: list[tuple] = []
    for t in read_batches(path, ["id", "source", "kind", "text"]):
        for label, ids, texts in _classes(t, positives, negatives):
            for i, x in zip(ids, texts):
                h = doc_hash(seed, "sample:" + i)
                if h >= cuts[label]:
                    continue
                if model is None:
                    out.append((h, label, i, x, None, None))
                elif _is_test(h, test_fraction):
                    out.append((h, label, i, None, score(model, x, max_chars), len(x.encode("utf-8"))))
                else:
                    out.append((h, label, i, None, None, None))
    return out


def _is_test(h: int, test_fraction: float) -> bool:
    return (h >> 40) % 10000 < test_fraction * 10000


def _sample_cut(n: int, k: int) -> int:
    """A hash cut keeping about k + 6 sigma of n uniformly hashed documents (all of them when n is small)."""
    want = k + 6.0 * math.sqrt(k) + 16
    return 2**64 if want >= n else int(2**64 * want / n)


def _score_part(
    path: str, model_path: str, scored: list[str], max_chars: int, out_dir: str, edges: np.ndarray = HIST_EDGES
) -> str:
    """Score histogram over ``edges`` (``filters.classifier.score_histogram``) of the documents of one part that
    ``apply`` will score, saved in ``out_dir``; returns its path (the driver adds them up one at a time)."""
    model = load_model(model_path)
    hist = np.zeros((3, len(edges)))
    for t in read_batches(path, ["source", "kind", "text"]):
        texts = [x or "" for x in split_by_source(t, scored)[0]["text"].to_pylist()]
        if texts:
            hist += score_histogram(
                np.array([score(model, x, max_chars) for x in texts], float),
                np.array([len(x.encode("utf-8")) for x in texts], float),
                edges,
            )
    out = Path(out_dir) / f"hist-{hashlib.blake2b(path.encode(), digest_size=8).hexdigest()}.npy"
    np.save(out, hist)
    return str(out)


def _histogram(ctx: FitContext, fn: Any) -> np.ndarray:
    total = None
    for f in ctx.map_parts(functools.partial(_call_str, fn)):
        h = np.load(f)
        total = h if total is None else total + h
        Path(f).unlink()
    return total if total is not None else np.zeros((3, HIST_BINS))


def _threshold_cut(
    ctx: FitContext, score_fn: Any, coarse: np.ndarray, target: float, by_bytes: bool
) -> tuple[float, float, float]:
    """The threshold keeping the share ``target`` of the scored documents (or bytes), to about a document: the
    coarse histogram finds the bin the cut falls in, a second pass histograms that bin finely. Returns the
    threshold and the shares of documents and bytes it keeps."""
    w = coarse[1 if by_bytes else 0]
    b = int(np.nonzero(kept_shares(w) >= target)[0][-1])
    lo, hi = HIST_EDGES[b], HIST_EDGES[b + 1] if b + 1 < HIST_BINS else 1.0 + 1e-6
    edges = np.concatenate([[-np.inf], np.linspace(lo, hi, HIST_BINS + 1)])  # below, fine bins, at or above hi
    fine = _histogram(ctx, functools.partial(score_fn, edges=edges))
    kept = kept_shares(fine[1 if by_bytes else 0])
    j = 1 + int(np.argmin(np.abs(kept[1:] - target)))
    return float(edges[j]), float(kept_shares(fine[0])[j]), float(kept_shares(fine[1])[j])


class QualityStage(Stage):
    name = "quality"

    @dataclass
    class Config:
        positives: list[str] = field(default_factory=lambda: ["wiki", "books"], metadata=SOURCES_OR_KINDS)
        negatives: list[str] = field(default_factory=lambda: ["web"], metadata=SOURCES_OR_KINDS)
        score_kinds: list[str] = field(default_factory=lambda: ["web"], metadata=SOURCES_OR_KINDS)  # to score
        # reuse a saved model (skip training)
        model: str | None = field(default=None, metadata=PATH)
        mode: Literal["pareto", "threshold"] = "pareto"
        alpha: float = field(default=9.0, metadata=bounds(gt=0))  # GPT-3 Appendix A
        threshold: float = field(default=0.5, metadata=bounds(ge=0, le=1))
        # calibrate alpha / threshold to keep this share of scored docs
        target_keep_rate: float | None = field(default=None, metadata=bounds(gt=0, le=1))
        # or calibrate to keep about this many tokens of scored text
        target_tokens: int | None = field(default=None, metadata=bounds(ge=1))
        # for target_tokens: the mixture planner's estimate (utf-8 bytes / 4)
        bytes_per_token: float = field(default=4.0, metadata=bounds(gt=0))
        max_docs_per_class: int = field(default=20000, metadata=bounds(ge=1))
        test_fraction: float = field(default=0.2, metadata=bounds(ge=0, lt=1))
        chunk_words: int = field(default=300, metadata=bounds(ge=1))
        max_chunks_per_doc: int = field(default=20, metadata=bounds(ge=1))
        max_chars: int = field(default=20000, metadata=bounds(ge=1))  # characters of a document that are scored
        epoch: int = field(default=20, metadata=bounds(ge=1))
        lr: float = field(default=0.2, metadata=bounds(gt=0))
        dim: int = field(default=32, metadata=bounds(ge=1))
        word_ngrams: int = field(default=2, metadata=bounds(ge=1))
        bucket: int = field(default=200000, metadata=bounds(ge=1))
        min_count: int = field(default=1, metadata=bounds(ge=1))

        def check(self) -> None:  # rules between settings (curate.recipe.build_config calls it)
            if self.target_keep_rate is not None and self.target_tokens is not None:
                raise ValueError("target_keep_rate: set target_keep_rate or target_tokens, not both")
            if self.mode == "pareto" and self.target_keep_rate == 1.0:
                raise ValueError(
                    "target_keep_rate: 1.0 cannot be calibrated in mode pareto (its random draw "
                    "always drops some documents); use mode: threshold to keep every document, or a "
                    "rate below 1"
                )

    def fit(self, ctx: FitContext) -> dict:
        c = self.config
        counts = ctx.map_parts(
            functools.partial(_call_str, functools.partial(_count_part, positives=c.positives, negatives=c.negatives))
        )
        cuts = {lab: _sample_cut(sum(n[lab] for n in counts), c.max_docs_per_class) for lab in (POS, NEG)}
        model_path = str(Path(c.model).resolve()) if c.model else None
        fn = functools.partial(
            _sample_part,
            positives=c.positives,
            negatives=c.negatives,
            seed=ctx.seed,
            cuts=cuts,
            model_path=model_path,
            test_fraction=c.test_fraction,
            max_chars=c.max_chars,
        )
        # About max_docs_per_class + 6 sigma rows per class come back: the global bottom-k is cut from them.
        sample = sorted(
            (r for part in ctx.map_parts(functools.partial(_call_str, fn)) for r in part), key=lambda r: r[:3]
        )
        by_label = {lab: [r for r in sample if r[1] == lab][: c.max_docs_per_class] for lab in (POS, NEG)}
        test = [r for rs in by_label.values() for r in rs if _is_test(r[0], c.test_fraction)]
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        if model_path:
            n_train = 0
        else:
            if not by_label[POS] or not by_label[NEG]:
                raise ValueError(
                    f"quality: need both positives {c.positives} and negatives {c.negatives} in the "
                    f"input to train (found {len(by_label[POS])} / {len(by_label[NEG])} documents); "
                    "or set quality.model to a saved model"
                )
            train = [r[:4] for rs in by_label.values() for r in rs if not _is_test(r[0], c.test_fraction)]
            model_path, n_train = self._train(train, ctx.workdir, ctx.seed)
            model = load_model(model_path)
            test = [(*r[:4], score(model, r[3], c.max_chars), len(r[3].encode("utf-8"))) for r in test]
        labels = np.array([r[1] == POS for r in test], bool)
        scores = np.array([r[4] for r in test], float)
        prec, rec = precision_recall(labels, scores)
        alpha, threshold, target, doc_rate, byte_rate, scored_bytes = self._calibrate(ctx, model_path, test)
        metrics = {
            "auc": auc(labels, scores),
            "precision": prec,
            "recall": rec,
            "n_train": n_train,
            "n_test": len(test),
            "n_test_pos": int(labels.sum()),
            "n_test_neg": int((~labels).sum()),
            "mode": c.mode,
            "alpha": alpha,
            "threshold": threshold,
            "model": model_path,
            "calibrated_on": "held_out" if target is None else "all_scored",
            "expected_web_keep_rate": doc_rate,
            "scored_bytes": int(scored_bytes),
            "expected_scored_tokens_kept": None
            if byte_rate is None
            else round(byte_rate * scored_bytes / c.bytes_per_token),
        }
        metrics = {k: (None if isinstance(v, float) and v != v else v) for k, v in metrics.items()}
        (ctx.workdir / "quality_eval.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        ctx.log(
            f"quality: held-out AUC {metrics['auc']}, precision {prec:.3f}, recall {rec:.3f} "
            f"on {len(test)} documents; model {model_path}"
        )
        return {"model": model_path, "seed": ctx.seed, "alpha": alpha, "threshold": threshold, "summary": metrics}

    def _calibrate(self, ctx: FitContext, model_path: str, test: list[tuple]) -> tuple:
        """``(alpha, threshold, target, expected doc keep rate, byte keep rate, scored bytes)``."""
        c = self.config
        alpha, threshold, target = c.alpha, c.threshold, c.target_keep_rate
        if c.target_keep_rate is None and c.target_tokens is None:
            # No target: the keep rate is estimated on the held-out web documents (a bounded sample).
            neg = [r for r in test if r[1] != POS]
            pop, nbytes = np.array([r[4] for r in neg], float), np.array([r[5] for r in neg], float)
            scored_bytes = float(nbytes.sum())
            if not len(pop):
                doc_rate = byte_rate = None
            elif c.mode == "pareto":
                doc_rate, byte_rate = expected_keep_rate(pop, alpha), expected_keep_rate(pop, alpha, nbytes)
            else:
                keep = pop >= threshold
                doc_rate, byte_rate = float(keep.mean()), float(nbytes[keep].sum() / max(scored_bytes, 1.0))
        else:
            # A target: every document ``apply`` will score is scored here (a distributed pass merged as a
            # fixed-size histogram), so the calibration is made on the very population ``apply`` will see.
            (ctx.workdir / "hist").mkdir(parents=True, exist_ok=True)
            score_fn = functools.partial(
                _score_part,
                model_path=model_path,
                scored=c.score_kinds,
                max_chars=c.max_chars,
                out_dir=str(ctx.workdir / "hist"),
            )
            hist = _histogram(ctx, score_fn)
            scored_bytes = float(hist[1].sum())
            if c.target_tokens is not None and scored_bytes:
                target = c.target_tokens * c.bytes_per_token / scored_bytes
                if target >= 1.0:
                    ctx.log(
                        f"quality: target_tokens {c.target_tokens:,} is at least all ~"
                        f"{scored_bytes / c.bytes_per_token:,.0f} scored tokens: keeping nearly everything"
                    )
                target = min(target, 0.999)
            by_bytes = c.target_tokens is not None
            if not hist[0].sum():
                doc_rate = byte_rate = None
            elif c.mode == "pareto":
                alpha = hist_alpha(hist, target, by_bytes)
                doc_rate, byte_rate = hist_keep_rates(hist, alpha)
            else:
                threshold, doc_rate, byte_rate = _threshold_cut(ctx, score_fn, hist, target, by_bytes)
        return alpha, threshold, target, doc_rate, byte_rate, scored_bytes

    def _train(self, train: list[tuple], workdir: Path, seed: int) -> tuple[str, int]:
        c = self.config
        examples = []
        for h, label, did, text in train:
            for j, chunk in enumerate(chunks(text, c.chunk_words, c.max_chunks_per_doc)):
                examples.append((doc_hash(seed, f"{did}:{j}"), f"{label} {ft_line(chunk, c.max_chars)}"))
        examples.sort()  # deterministic shuffle
        train_file = workdir / "quality_train.txt"
        with open(train_file, "w", encoding="utf-8") as f:  # line by line: no second copy of the sample's text
            f.writelines(line.replace("\n", " ") + "\n" for _, line in examples)
        path = workdir / "quality.bin"
        args = dict(
            input=str(train_file),
            epoch=c.epoch,
            lr=c.lr,
            dim=c.dim,
            wordNgrams=c.word_ngrams,
            bucket=c.bucket,
            minCount=c.min_count,
            thread=1,
            seed=seed,
            verbose=0,
        )
        # fastText keeps state between trainings in one process: a second train_supervised in the same
        # process can differ or hit "Encountered NaN". A fresh spawned process makes it reproducible.
        try:
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as ex:
                ex.submit(_train_fasttext, args, str(path)).result()
        finally:  # a work file (the sample's text again, ~100 MB at the default k): never left in the run folder
            train_file.unlink(missing_ok=True)
        return str(path.resolve()), len(examples)

    def apply(self, batch: pa.Table, state: dict) -> StageResult:
        c = self.config
        scored, passthrough = split_by_source(batch, c.score_kinds)
        model = load_model(state["model"])
        seed, alpha, threshold = state["seed"], state["alpha"], state["threshold"]

        def decide(text: str, meta: dict, doc_id: str) -> Verdict:
            s = score(model, text, c.max_chars)
            keep = pareto_keep(s, seed, doc_id, alpha) if c.mode == "pareto" else s >= threshold
            return Verdict(
                None if keep else f"quality:{c.mode}", {"quality_score": round(float(s), 6), "quality_keep": int(keep)}
            )

        res = run_docs(scored, self.name, decide)
        res.kept = pa.concat_tables([res.kept, passthrough.cast(res.kept.schema)])
        return res


def _train_fasttext(args: dict, out_path: str) -> None:
    import fasttext

    fasttext.train_supervised(**args).save_model(out_path)


def _call_str(fn: Any, path: Any) -> Any:
    return fn(str(path))
