"""The ``tokenize`` stage: train (or reuse) the tokenizer, then encode, shuffle and shard the documents.

``fit`` trains sentencepiece BPE (``tokenizer.train``) on a sample of about ``sample_chars`` characters of the
mixed documents, drawn batch by batch in the tasks (``tokenizer.sample``), or copies
the model given by ``model:`` into ``runs/<r>/tokenizer/``. ``apply`` passes documents through
(empty texts are dropped as ``tokenize:empty``). ``finalize`` encodes the stage's output parts in
parallel (one task per part), shuffles them into shards with one task per bucket of shards
(``curate.shards.writer``) and publishes the shard set and ``manifest.json`` atomically
(``curate.shards.publish``). The driver only sees per-part and per-bucket counts.
"""

from __future__ import annotations

import itertools
import os
import shutil
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curate.config import PATH, bounds
from curate.partio import file_sha256
from curate.schema import empty_drops, with_reason
from curate.shards.megatron import token_dtype
from curate.shards.publish import TOKENIZER, publish, published_problems, staging_dir
from curate.shards.writer import merge_buckets, plan, write_bucket
from curate.stage import FitContext, Stage, StageResult
from curate.tokenizer.encode import LOSSY_EXAMPLES, encode_part, load_model
from curate.tokenizer.sample import part_chars, sample_part
from curate.tokenizer.train import install_model, train_sentencepiece, write_hf_config

MANIFEST_VERSION = 1


def _rel(path: Path, root: Path) -> str:
    try:
        return os.path.relpath(Path(path).resolve(), Path(root).resolve())
    except ValueError:  # another drive
        return str(Path(path).resolve())


class TokenizeStage(Stage):
    name = "tokenize"

    @dataclass
    class Config:
        vocab_size: int = field(
            default=8000,
            metadata=bounds(  # unk/bos/eos, EOD, extras, newline, 256 bytes
                ge=lambda c: 5 + len(c.special_tokens) + (256 if c.byte_fallback else 1), le=2**31 - 1
            ),
        )  # int32 ids
        # characters of (mixed) text to train the tokenizer on
        sample_chars: int = field(default=20_000_000, metadata=bounds(ge=1))
        # reuse an existing sentencepiece model by path (no training)
        model: str | None = field(default=None, metadata=PATH)
        shard_tokens: int = field(default=2**24, metadata=bounds(ge=1))  # a shard closes at this many tokens
        # share of documents (by hash of id) in the validation split
        val_fraction: float = field(default=0.01, metadata=bounds(ge=0, lt=1))
        eod_token: str = "<|endoftext|>"
        special_tokens: list[str] = field(default_factory=list)  # extra control symbols
        byte_fallback: bool = True
        # Tokens of shards written by one shuffle task: bounds that task's memory (its index rows, ~100 bytes
        # per document); does not change the output.
        shuffle_bucket_tokens: int = field(default=2**26, metadata=bounds(ge=1))

    def fit(self, ctx: FitContext) -> dict[str, Any]:
        c = self.config
        tok_dir = ctx.run_dir / "tokenizer"
        if c.model:
            if not Path(c.model).is_file():
                raise FileNotFoundError(f"tokenize.model: no tokenizer model at {c.model!r}")
            try:
                load_model(str(c.model))
            except (RuntimeError, OSError) as e:  # not a sentencepiece model: said before it is installed
                raise ValueError(f"tokenize.model: {c.model!r} is not a sentencepiece model ({e})") from None
            model = install_model(c.model, tok_dir)
            write_hf_config(tok_dir, c.eod_token)
            info: dict[str, Any] = {"reused_from": str(Path(c.model).resolve())}
        else:
            total = sum(ctx.map_parts(part_chars))
            prob = min(1.0, c.sample_chars / total) if total else 0.0
            sample = sorted(
                itertools.chain.from_iterable(ctx.map_parts(partial(sample_part, seed=ctx.seed, prob=prob)))
            )
            if not sample:
                raise ValueError(
                    "tokenize: no text to train the tokenizer on: no document with a non-blank line "
                    "reached this stage (see the counts logged above, and dropped/ and errors/)"
                )
            model = train_sentencepiece(
                (line for *_, line in sample), tok_dir, c.vocab_size, c.eod_token, c.special_tokens, c.byte_fallback
            )
            info = {"sample_lines": len(sample), "sample_chars": sum(len(x) for *_, x in sample), "corpus_chars": total}
        sp = load_model(str(model))
        eod = sp.piece_to_id(c.eod_token)
        if eod == sp.unk_id() or not sp.is_control(eod):
            raise ValueError(
                f"tokenize: tokenizer {model} has no control symbol {c.eod_token!r} "
                f"(set eod_token to the model's end-of-document piece)"
            )
        if sp.eos_id() != eod:  # a reused model that declares another EOS: trainers would miss boundaries
            ctx.log(f"tokenizer: warning: {model} declares EOS id {sp.eos_id()}, not the EOD {c.eod_token!r}={eod}")
        ctx.log(f"tokenizer: {model} vocab {sp.vocab_size()} eod {c.eod_token!r}={eod} {info}")
        return {"model": str(model), "vocab_size": sp.vocab_size(), "eod_id": eod, "eos_id": sp.eos_id(), **info}

    def apply(self, batch: pa.Table, state: dict[str, Any]) -> StageResult:
        empty = pc.fill_null(pc.equal(pc.utf8_length(pc.fill_null(batch.column("text"), "")), 0), True)
        dropped = batch.filter(empty)
        return StageResult(
            kept=batch.filter(pc.invert(empty)),
            dropped=with_reason(dropped, "tokenize:empty", self.name) if dropped.num_rows else empty_drops(),
        )

    def finalize(self, ctx: FitContext, state: dict[str, Any]) -> dict[str, Any]:
        c = self.config
        dtype = token_dtype(state["vocab_size"])
        run = ctx.run_dir
        enc_dir = ctx.workdir / "encoded"
        shutil.rmtree(enc_dir, ignore_errors=True)
        enc_dir.mkdir(parents=True)
        staging = staging_dir(run)
        encoded = ctx.map_parts(
            partial(
                encode_part,
                model=state["model"],
                out_dir=str(enc_dir),
                dtype=dtype.name,
                seed=ctx.seed,
                val_fraction=c.val_fraction,
            )
        )
        lossy = {
            "docs": sum(e["not_lossless"] for e in encoded),
            "examples": sorted(itertools.chain.from_iterable(e["not_lossless_examples"] for e in encoded))[
                :LOSSY_EXAMPLES
            ],
            "why": "sentencepiece decodes U+2581 (its whitespace symbol) in a text as a space; a reused model may "
            "also normalise text (e.g. NFKC)",
        }
        layout = plan(encoded, c.val_fraction, c.shard_tokens, c.shuffle_bucket_tokens)
        written = ctx.map(
            partial(
                write_bucket,
                parts=[e["name"] for e in encoded],
                enc_dir=str(enc_dir),
                out_dir=str(staging),
                dtype=dtype.name,
                eod_id=state["eod_id"],
                val_fraction=c.val_fraction,
                forced=layout.forced_val,
            ),
            layout.buckets,
        )
        splits, per_source = merge_buckets(written)
        shutil.copyfile(state["model"], staging / TOKENIZER)
        write_hf_config(staging, c.eod_token)  # HF AutoTokenizer loads the set's own copy with EOD as EOS
        manifest = publish(
            run,
            staging,
            {
                "manifest_version": MANIFEST_VERSION,
                "format": "megatron-mmidx",
                "dtype": dtype.name,
                "vocab_size": state["vocab_size"],
                "eod_id": state["eod_id"],
                "eod_token": c.eod_token,
                "eod_is_eos": state.get("eos_id") == state["eod_id"],  # tokenizers report it as EOS
                "tokenizer": {
                    "type": "sentencepiece-bpe",
                    "sha256": file_sha256(Path(state["model"])),
                    "reused_from": state.get("reused_from"),
                },
                "seed": ctx.seed,
                "val_fraction": c.val_fraction,
                "shard_tokens": c.shard_tokens,
                "splits": splits,
                "tokens": {s: sum(x["tokens"] for x in v) for s, v in splits.items()},
                "per_source": per_source,
                "documents": sorted(_rel(p, run) for p in ctx.parts),
                "not_lossless": lossy,
            },
        )
        shutil.rmtree(enc_dir)
        summary = {
            "shards": {s: len(v) for s, v in splits.items()},
            "tokens": manifest["tokens"],
            "tokenizer": manifest["tokenizer"],
            "vocab_size": state["vocab_size"],
            "dtype": dtype.name,
            "per_source": per_source,
            "encoded_docs": sum(e["docs"] for e in encoded),
            "shuffle_buckets": len(layout.buckets),
            "not_lossless_docs": lossy["docs"],
        }
        ctx.log(f"tokenize: {summary['shards']} shards, tokens {manifest['tokens']}")
        if lossy["docs"]:
            ctx.log(
                f"tokenize: {lossy['docs']} document(s) do not decode back to their text ({lossy['why']}); "
                f"counted in manifest.json not_lossless, e.g. {', '.join(lossy['examples'][:3])}"
            )
        if not summary["encoded_docs"]:
            ctx.log(
                "tokenize: warning: no document reached this stage: the published shard set is empty "
                "(see the counts logged above, and dropped/ and errors/)"
            )
        return {"tokenize": summary}

    def finalized(self, run_dir: Path) -> list[str]:
        return published_problems(run_dir)
