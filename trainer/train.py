"""Train the GPT on a shard manifest: AdamW, random windows, CUDA + bf16 autocast when available.

Held-out evaluation files (``eval_files``, JSONL with ``text``) are scored at every evaluation step, per file:
nats per token (the mean next-token cross-entropy) and bits per byte (total nats / ln 2 / UTF-8 bytes of
the text scored), which is comparable across tokenizers. The stream is cut into consecutive windows of
``block_size`` predicted tokens (no overlap: each token is predicted once, with the context since its
window's start).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from curate.io import atomic_path, write_json_atomic
from curate.trainer.data import EvalSet, Windows, eval_names, fits_a_window, load_eval_jsonl, load_manifest, refuse
from curate.trainer.model import CONFIGS, GPT, GPTConfig

DEFAULTS = {
    "tiny": dict(batch_size=16, lr=3e-3),
    "cpu": dict(batch_size=8, lr=2e-3),
    "small": dict(batch_size=32, lr=1e-3),
    "gpt2": dict(batch_size=16, lr=6e-4),
}


SCHEDULES = ("constant", "cosine")


def lr_factor(schedule: str, step: int, steps: int) -> float:
    """Multiplier of the base learning rate at ``step`` (1-based) of a ``steps``-step run."""
    if schedule == "constant":
        return 1.0
    warm = max(1, steps // 20)
    if step <= warm:
        return step / warm
    progress = (step - warm) / max(1, steps - warm)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("trainer: --device cuda requested but CUDA is not available")
    return torch.device(device)


def auto_config(dev: torch.device) -> str:
    """The default model for a device: nanoGPT's baby GPT on a GPU; on a CPU one small enough that the
    README's 200 steps finish in about a minute on 2 cores."""
    return "small" if dev.type == "cuda" else "cpu"


def _autocast(dev: torch.device) -> contextlib.AbstractContextManager:
    if dev.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _to(batch: np.ndarray, dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.from_numpy(batch)
    if dev.type == "cuda":
        t = t.pin_memory().to(dev, non_blocking=True)
    return t[:, :-1], t[:, 1:]


@torch.no_grad()
def evaluate(model: GPT, batches: list[np.ndarray], dev: torch.device) -> float:
    model.eval()
    losses = []
    for b in batches:
        with _autocast(dev):
            _, loss = model(*_to(b, dev))
        losses.append(loss.item())
    model.train()
    return float(np.mean(losses))


@torch.no_grad()
def evaluate_stream(model: GPT, ev: EvalSet, dev: torch.device, batch_size: int = 32) -> tuple[float, float]:
    """``(nats per token, bits per byte)`` of ``ev`` (see the module docstring)."""
    model.eval()
    block = model.config.block_size
    toks = torch.from_numpy(ev.tokens)
    starts = list(range(0, toks.numel() - 1, block))
    total, count = 0.0, 0
    for i in range(0, len(starts), batch_size):
        group = starts[i : i + batch_size]
        # full windows batch together; a last, shorter window runs alone
        for chunk in ([s for s in group if s + block < toks.numel()], [s for s in group if s + block >= toks.numel()]):
            if not chunk:
                continue
            n = min(block, toks.numel() - 1 - chunk[0])
            w = torch.stack([toks[s : s + n + 1] for s in chunk]).to(dev)
            with _autocast(dev):
                logits, _ = model(w[:, :-1])
            total += F.cross_entropy(
                logits.float().reshape(-1, logits.size(-1)), w[:, 1:].reshape(-1), reduction="sum"
            ).item()
            count += w[:, 1:].numel()
    model.train()
    return total / count, total / math.log(2) / ev.n_bytes


def load_eval_sets(
    manifest_path: str | Path, manifest: dict[str, Any], files: list[str | Path], max_tokens: int
) -> list[EvalSet]:
    """Tokenize each evaluation file with the manifest's tokenizer (at most ``max_tokens`` tokens each)."""
    tok = Path(manifest_path).parent / manifest.get("tokenizer", {}).get("path", "")
    if not tok.is_file():
        raise refuse(f"evaluation files need the manifest's tokenizer, but {tok} does not exist")
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(tok))
    return [
        load_eval_jsonl(p, name, sp, int(manifest["eod_id"]), max_tokens) for name, p in eval_names(list(files)).items()
    ]


def train(
    manifest_path: str | Path,
    steps: int,
    config: str = "tiny",
    device: str = "auto",
    out: str | Path | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    eval_every: int | None = None,
    eval_batches: int = 8,
    log_every: int = 10,
    seed: int = 0,
    resume: str | Path | None = None,
    cpu_threads: int | None = None,
    eval_files: list[str | Path] | None = None,
    eval_tokens: int = 16384,
    schedule: str = "constant",
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train for ``steps`` steps; returns ``{"train": [(step, loss)], "val": [(step, loss)], ...}`` and, with
    ``eval_files``, ``"eval": {name: [(step, nats_per_token, bits_per_byte)]}`` and ``"eval_sets"``.

    ``schedule``: ``constant`` learning rate, or ``cosine``: linear warm-up over the first 5% of the steps, then
    cosine decay to 10% by the last step (a decayed model's final loss is far less noisy: what an ablation
    compares). ``cpu_threads`` caps torch's CPU threads (on a shared machine oversubscribed threads are ~10x slower).
    """
    if config != "auto" and config not in CONFIGS:
        raise SystemExit(f"trainer: unknown config {config!r}; choose from auto, {', '.join(CONFIGS)}")
    if schedule not in SCHEDULES:
        raise SystemExit(f"trainer: unknown schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")
    for flag, value, low in (
        ("--steps", steps, 1),
        ("--batch-size", batch_size, 1),
        ("--eval-every", eval_every, 1),
        ("--cpu-threads", cpu_threads, 0),
        ("--eval-tokens", eval_tokens, 1),
    ):
        if value is not None and value < low:
            raise SystemExit(f"trainer: {flag} {value} is out of range (must be >= {low})")
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise SystemExit(f"trainer: --lr {lr} is out of range (must be a finite number > 0)")
    manifest, splits = load_manifest(manifest_path)
    dev = pick_device(device)
    if config == "auto":
        config = auto_config(dev)
        log(f"trainer: config {config} (auto: small on a GPU, cpu on a CPU; --config picks another)")
    if dev.type == "cpu" and (cpu_threads or config == "cpu"):
        # the cpu config's matrices are too small for threads to pay: on a busy machine a second thread
        # waiting for its share made steps ~9x slower (measured, 2 cores)
        torch.set_num_threads(cpu_threads or 1)
    torch.manual_seed(seed)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    gcfg = GPTConfig(vocab_size=int(manifest["vocab_size"]), **CONFIGS[config])
    model = GPT(gcfg).to(dev)
    base_lr = lr or DEFAULTS[config]["lr"]
    opt = torch.optim.AdamW(
        model.parameters(), lr=base_lr, betas=(0.9, 0.95), weight_decay=0.1, fused=dev.type == "cuda"
    )
    start = 0
    if resume:
        try:
            ck = torch.load(resume, map_location=dev, weights_only=False)
        except Exception as e:  # missing, truncated or not a checkpoint
            raise SystemExit(f"trainer: cannot load checkpoint {resume}: {type(e).__name__}: {e}") from None
        if not (isinstance(ck, dict) and {"model", "optimizer", "model_config", "step"} <= set(ck)):
            raise SystemExit(f"trainer: {resume} is not a checkpoint written by this trainer")
        if ck["model_config"]["vocab_size"] != gcfg.vocab_size:
            raise refuse(
                f"checkpoint {resume} has vocab {ck['model_config']['vocab_size']}, the manifest {gcfg.vocab_size}"
            )
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        start = ck["step"]
    bs = batch_size or DEFAULTS[config]["batch_size"]
    train_w = Windows(splits["train"], gcfg.block_size, seed)
    val_src = splits.get("val") or []
    val_batches = (
        [Windows(val_src, gcfg.block_size, seed + 1, "val").batch(bs) for _ in range(eval_batches)]
        if fits_a_window(val_src, gcfg.block_size)
        else []
    )
    if not val_batches:
        log("trainer: no validation shard holds one window (block_size+1 tokens); no validation loss")
    evals = load_eval_sets(manifest_path, manifest, eval_files, eval_tokens) if eval_files else []
    eval_every = eval_every or max(1, steps // 10)
    hist: dict[str, Any] = {
        "train": [],
        "val": [],
        "device": str(dev),
        "params": model.num_params(),
        "schedule": schedule,
        "config": asdict(gcfg),
        "eval": {e.name: [] for e in evals},
        "eval_sets": {e.name: e.describe() for e in evals},
    }
    log(
        f"trainer: {config} GPT, {hist['params']:,} params, vocab {gcfg.vocab_size}, device {dev}, "
        f"bf16 {dev.type == 'cuda' and torch.cuda.is_bf16_supported()}"
    )

    def run_evals(step: int) -> None:
        if val_batches:
            hist["val"].append((step, evaluate(model, val_batches, dev)))
            log(f"step {step} val loss {hist['val'][-1][1]:.4f}")
        for e in evals:
            nats, bpb = evaluate_stream(model, e, dev)
            hist["eval"][e.name].append((step, nats, bpb))
            log(f"step {step} eval {e.name}: {nats:.4f} nats/token, {bpb:.4f} bits/byte")

    run_evals(start)
    t0, tokens = time.perf_counter(), 0
    for step in range(start + 1, start + steps + 1):
        for g in opt.param_groups:
            g["lr"] = base_lr * lr_factor(schedule, step - start, steps)
        x, y = _to(train_w.batch(bs), dev)
        with _autocast(dev):
            _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        tokens += x.numel()
        hist["train"].append((step, loss.item()))
        if step % log_every == 0 or step == start + steps:
            rate = tokens / (time.perf_counter() - t0)
            hist["tokens_per_s"] = rate
            log(f"step {step} train loss {hist['train'][-1][1]:.4f} tokens/s {rate:,.0f}")
        if step % eval_every == 0 or step == start + steps:
            run_evals(step)
    out_dir = Path(out) if out else Path(manifest_path).parent / "trainer"
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = out_dir / "ckpt.pt"
    with atomic_path(ckpt) as tmp:  # a kill never leaves a half-written checkpoint
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "model_config": asdict(gcfg),
                "step": start + steps,
                "manifest": str(Path(manifest_path).resolve()),
                "tokenizer_sha256": manifest.get("tokenizer", {}).get("sha256"),
            },
            tmp,
        )
    hist["checkpoint"] = str(ckpt)
    write_json_atomic(hist, out_dir / "metrics.json")
    log(f"trainer: saved {ckpt} and the loss history in {out_dir / 'metrics.json'}")
    return hist
