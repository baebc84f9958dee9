"""Train the GPT on a shard manifest: AdamW, random windows, CUDA + bf16 autocast when available."""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from curate.trainer.data import Windows, load_manifest, refuse
from curate.trainer.model import CONFIGS, GPT, GPTConfig

DEFAULTS = {"tiny": dict(batch_size=16, lr=3e-3), "small": dict(batch_size=32, lr=1e-3),
            "gpt2": dict(batch_size=16, lr=6e-4)}


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("trainer: --device cuda requested but CUDA is not available")
    return torch.device(device)


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


def train(manifest_path: str | Path, steps: int, config: str = "tiny", device: str = "auto",
          out: str | Path | None = None, batch_size: int | None = None, lr: float | None = None,
          eval_every: int | None = None, eval_batches: int = 8, log_every: int = 10, seed: int = 0,
          resume: str | Path | None = None, cpu_threads: int | None = None,
          log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train for ``steps`` steps; returns ``{"train": [(step, loss)], "val": [(step, loss)], ...}``.

    ``cpu_threads`` caps torch's CPU threads (on a shared machine oversubscribed threads are ~10x slower).
    """
    if config not in CONFIGS:
        raise SystemExit(f"trainer: unknown config {config!r}; choose from {', '.join(CONFIGS)}")
    manifest, splits = load_manifest(manifest_path)
    dev = pick_device(device)
    if dev.type == "cpu" and cpu_threads:
        torch.set_num_threads(cpu_threads)
    torch.manual_seed(seed)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    gcfg = GPTConfig(vocab_size=int(manifest["vocab_size"]), **CONFIGS[config])
    model = GPT(gcfg).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=lr or DEFAULTS[config]["lr"], betas=(0.9, 0.95),
                            weight_decay=0.1, fused=dev.type == "cuda")
    start = 0
    if resume:
        ck = torch.load(resume, map_location=dev, weights_only=False)
        if ck["model_config"]["vocab_size"] != gcfg.vocab_size:
            raise refuse(f"checkpoint {resume} has vocab {ck['model_config']['vocab_size']}, "
                         f"the manifest {gcfg.vocab_size}")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        start = ck["step"]
    bs = batch_size or DEFAULTS[config]["batch_size"]
    train_w = Windows(splits["train"], gcfg.block_size, seed)
    val_src = splits.get("val") or []
    val_batches = ([Windows(val_src, gcfg.block_size, seed + 1).batch(bs) for _ in range(eval_batches)]
                   if val_src else [])
    if not val_batches:
        log("trainer: the manifest has no validation shards; no validation loss")
    eval_every = eval_every or max(1, steps // 10)
    hist: dict[str, Any] = {"train": [], "val": [], "device": str(dev), "params": model.num_params(),
                            "config": asdict(gcfg)}
    log(f"trainer: {config} GPT, {hist['params']:,} params, vocab {gcfg.vocab_size}, device {dev}, "
        f"bf16 {dev.type == 'cuda' and torch.cuda.is_bf16_supported()}")
    if val_batches:
        hist["val"].append((start, evaluate(model, val_batches, dev)))
        log(f"step {start} val loss {hist['val'][-1][1]:.4f}")
    t0, tokens = time.perf_counter(), 0
    for step in range(start + 1, start + steps + 1):
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
        if val_batches and (step % eval_every == 0 or step == start + steps):
            hist["val"].append((step, evaluate(model, val_batches, dev)))
            log(f"step {step} val loss {hist['val'][-1][1]:.4f}")
    out_dir = Path(out) if out else Path(manifest_path).parent / "trainer"
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = out_dir / "ckpt.pt"
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "model_config": asdict(gcfg),
                "step": start + steps, "manifest": str(Path(manifest_path).resolve()),
                "tokenizer_sha256": manifest.get("tokenizer", {}).get("sha256")}, ckpt)
    hist["checkpoint"] = str(ckpt)
    (out_dir / "metrics.json").write_text(json.dumps(hist, indent=1, default=str), encoding="utf-8")
    log(f"trainer: saved {ckpt} and the loss history in {out_dir / 'metrics.json'}")
    return hist
