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
"""
from __future__ import annotations

import functools
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.recipe import PATH, bounds
from curate.schema import split_by_source
from curate.stage import FitContext, Stage, StageResult
from curate.filters._stage import Verdict, run_docs
from curate.filters.classifier import (NEG, POS, auc, calibrate_alpha, calibrate_threshold, chunks, doc_hash,
                                expected_keep_rate, ft_line, pareto_keep, precision_recall)
from curate.filters.fasttext_util import load_model, predict_labels


def score(model: Any, text: str, max_chars: int) -> float:
    """P(high quality) for one document."""
    return predict_labels(model, ft_line(text, max_chars)).get(POS, 0.0)


def _sample_part(path: str, positives: list[str], negatives: list[str], seed: int, cap: int) -> list[tuple]:
    """(hash, label, id, text) for the ``cap`` lowest-hash documents of each class in one part: merging
    per-part samples by hash gives the same global sample however the data is partitioned."""
    t = pq.read_table(path, columns=["id", "source", "kind", "text"])
    out: list[tuple] = []
    for label, names in ((POS, positives), (NEG, negatives)):
        sub = split_by_source(t, names)[0]
        rows = [(doc_hash(seed, "sample:" + i), label, i, x) for i, x in
                zip(sub["id"].to_pylist(), sub["text"].to_pylist()) if x and x.strip()]
        out.extend(sorted(rows)[:cap])
    return out


def _score_part(path: str, model_path: str, scored: list[str], max_chars: int) -> list[tuple[float, int]]:
    """(score, utf-8 bytes) of each document of one part that ``apply`` will score."""
    t = pq.read_table(path, columns=["source", "kind", "text"])
    model = load_model(model_path)
    texts = [x or "" for x in split_by_source(t, scored)[0]["text"].to_pylist()]
    return [(score(model, x, max_chars), len(x.encode("utf-8"))) for x in texts]


class QualityStage(Stage):
    name = "quality"

    @dataclass
    class Config:
        positives: list[str] = field(default_factory=lambda: ["wiki", "books"])  # sources or kinds
        negatives: list[str] = field(default_factory=lambda: ["web"])
        score_kinds: list[str] = field(default_factory=lambda: ["web"])  # sources or kinds to score
        # reuse a saved model (skip training)
        model: str | None = field(default=None, metadata=PATH)
        mode: str = "pareto"  # pareto | threshold
        alpha: float = field(default=9.0, metadata=bounds(gt=0))  # GPT-3 Appendix A
        threshold: float = field(default=0.5, metadata=bounds(ge=0, le=1))
        # calibrate alpha / threshold to keep this share of scored docs
        target_keep_rate: float | None = field(default=None, metadata=bounds(gt=0, le=1))
        # or calibrate to keep about this many tokens of scored text
        target_tokens: int | None = field(default=None, metadata=bounds(ge=1))
        # for target_tokens: the mixture planner's estimate (utf-8 bytes / 4)
        bytes_per_token: float = field(default=4.0, metadata=bounds(gt=0))
        max_docs_per_class: int = 20000
        test_fraction: float = field(default=0.2, metadata=bounds(ge=0, lt=1))
        chunk_words: int = 300
        max_chunks_per_doc: int = 20
        max_chars: int = 20000  # characters of a document that are scored
        epoch: int = 20
        lr: float = 0.2
        dim: int = 32
        word_ngrams: int = 2
        bucket: int = 200000
        min_count: int = 1

    def fit(self, ctx: FitContext) -> dict:
        c = self.config
        if c.mode not in ("pareto", "threshold"):
            raise ValueError(f"quality.mode must be 'pareto' or 'threshold', got {c.mode!r}")
        if c.target_keep_rate is not None and c.target_tokens is not None:
            raise ValueError("quality: set target_keep_rate or target_tokens, not both")
        fn = functools.partial(_sample_part, positives=c.positives, negatives=c.negatives, seed=ctx.seed,
                               cap=c.max_docs_per_class)
        sample = sorted(r for part in ctx.map_parts(functools.partial(_call_str, fn)) for r in part)
        by_label = {lab: [r for r in sample if r[1] == lab][: c.max_docs_per_class] for lab in (POS, NEG)}
        is_test = {r[2]: (r[0] >> 40) % 10000 < c.test_fraction * 10000 for rs in by_label.values() for r in rs}
        test = [r for rs in by_label.values() for r in rs if is_test[r[2]]]
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        if c.model:
            model_path = str(Path(c.model).resolve())
            n_train = 0
        else:
            if not by_label[POS] or not by_label[NEG]:
                raise ValueError(f"quality: need both positives {c.positives} and negatives {c.negatives} in the "
                                 f"input to train (found {len(by_label[POS])} / {len(by_label[NEG])} documents); "
                                 "or set quality.model to a saved model")
            train = [r for rs in by_label.values() for r in rs if not is_test[r[2]]]
            model_path, n_train = self._train(train, ctx.workdir, ctx.seed)
        model = load_model(model_path)
        labels = np.array([r[1] == POS for r in test], bool)
        scores = np.array([score(model, r[3], c.max_chars) for r in test], float)
        prec, rec = precision_recall(labels, scores)
        # Without a target, the keep rate is estimated on held-out web documents; with one, every document
        # to be scored is scored here (one distributed pass) so the calibration is made on the very population
        # ``apply`` will see: a threshold then meets the target to a document, Pareto sampling in expectation.
        pop_scores, pop_bytes = scores[~labels], np.array([len(r[3].encode()) for r in test if r[1] != POS], float)
        alpha, threshold, target = c.alpha, c.threshold, c.target_keep_rate
        if c.target_keep_rate is not None or c.target_tokens is not None:
            fn = functools.partial(_score_part, model_path=model_path, scored=c.score_kinds, max_chars=c.max_chars)
            pop = sorted(x for part in ctx.map_parts(functools.partial(_call_str, fn)) for x in part)
            pop_scores, pop_bytes = np.array([x[0] for x in pop], float), np.array([x[1] for x in pop], float)
        if c.target_tokens is not None and pop_bytes.sum():
            target = c.target_tokens * c.bytes_per_token / pop_bytes.sum()
            if target >= 1.0:
                ctx.log(f"quality: target_tokens {c.target_tokens:,} is at least all ~"
                        f"{pop_bytes.sum() / c.bytes_per_token:,.0f} scored tokens: keeping nearly everything")
            target = min(target, 0.999)
        weights = pop_bytes if c.target_tokens is not None else None
        if target is not None and len(pop_scores):
            if c.mode == "pareto":
                alpha = calibrate_alpha(pop_scores, target, weights)
            else:
                threshold = calibrate_threshold(pop_scores, target, weights)
        if not len(pop_scores):
            doc_rate = byte_rate = None
        elif c.mode == "pareto":
            doc_rate = expected_keep_rate(pop_scores, alpha)
            byte_rate = expected_keep_rate(pop_scores, alpha, pop_bytes)
        else:
            keep = pop_scores >= threshold
            doc_rate, byte_rate = float(keep.mean()), float(pop_bytes[keep].sum() / max(pop_bytes.sum(), 1.0))
        metrics = {"auc": auc(labels, scores), "precision": prec, "recall": rec, "n_train": n_train,
                   "n_test": len(test), "n_test_pos": int(labels.sum()), "n_test_neg": int((~labels).sum()),
                   "mode": c.mode, "alpha": alpha, "threshold": threshold, "model": model_path,
                   "calibrated_on": "held_out" if target is None else "all_scored", "expected_web_keep_rate": doc_rate,
                   "scored_bytes": int(pop_bytes.sum()), "expected_scored_tokens_kept": None if byte_rate is None
                   else round(byte_rate * pop_bytes.sum() / c.bytes_per_token)}
        metrics = {k: (None if isinstance(v, float) and v != v else v) for k, v in metrics.items()}
        (ctx.workdir / "quality_eval.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        ctx.log(f"quality: held-out AUC {metrics['auc']}, precision {prec:.3f}, recall {rec:.3f} "
                f"on {len(test)} documents; model {model_path}")
        return {"model": model_path, "seed": ctx.seed, "alpha": alpha, "threshold": threshold, "summary": metrics}

    def _train(self, train: list[tuple], workdir: Path, seed: int) -> tuple[str, int]:
        c = self.config
        examples = []
        for h, label, did, text in train:
            for j, chunk in enumerate(chunks(text, c.chunk_words, c.max_chunks_per_doc)):
                examples.append((doc_hash(seed, f"{did}:{j}"), f"{label} {ft_line(chunk, c.max_chars)}"))
        examples.sort()  # deterministic shuffle
        train_file = workdir / "quality_train.txt"
        train_file.write_text("".join(line.replace("\n", " ") + "\n" for _, line in examples), encoding="utf-8")
        path = workdir / "quality.bin"
        args = dict(input=str(train_file), epoch=c.epoch, lr=c.lr, dim=c.dim, wordNgrams=c.word_ngrams,
                    bucket=c.bucket, minCount=c.min_count, thread=1, seed=seed, verbose=0)
        # fastText keeps state between trainings in one process: a second train_supervised in the same
        # process can differ or hit "Encountered NaN". A fresh spawned process makes it reproducible.
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as ex:
            ex.submit(_train_fasttext, args, str(path)).result()
        return str(path.resolve()), len(examples)

    def apply(self, batch: pa.Table, state: dict) -> StageResult:
        c = self.config
        scored, passthrough = split_by_source(batch, c.score_kinds)
        model = load_model(state["model"])
        seed, alpha, threshold = state["seed"], state["alpha"], state["threshold"]

        def decide(text: str, meta: dict, doc_id: str) -> Verdict:
            s = score(model, text, c.max_chars)
            keep = pareto_keep(s, seed, doc_id, alpha) if c.mode == "pareto" else s >= threshold
            return Verdict(None if keep else f"quality:{c.mode}",
                           {"quality_score": round(float(s), 6), "quality_keep": int(keep)})

        res = run_docs(scored, self.name, decide)
        res.kept = pa.concat_tables([res.kept, passthrough.cast(res.kept.schema)])
        return res


def _train_fasttext(args: dict, out_path: str) -> None:
    import fasttext

    fasttext.train_supervised(**args).save_model(out_path)


def _call_str(fn: Any, path: Any) -> Any:
    return fn(str(path))
