"""The settings of an ablation (``curate ablate``), shared by its planning, build and training steps."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AblateConfig:
    """The settings of one ablation (the ``curate ablate`` flags)."""

    recipe: str
    variants: list[str] = field(default_factory=lambda: ["raw", "curated"])
    seeds: int = 3
    steps: int = 1000
    config: str = "tiny"
    eval_files: list[str] = field(default_factory=list)
    tokenizer: str | None = None  # a sentencepiece model to use instead of training one on the curated mix
    tokens: int | None = None  # token budget per variant (default: what the curated recipe produces)
    out: str | None = None
    workers: int | None = None
    device: str = "auto"
    threads: int | None = 1  # torch CPU threads per training run (tiny models do not scale past one)
    eval_tokens: int = 16384  # tokens scored per evaluation source
    eval_every: int | None = None
    schedule: str = "cosine"  # the trainer's learning-rate schedule (see trainer.train.lr_factor)
    jobs: int | None = None  # concurrent training runs (default: one on a GPU, one per CPU core otherwise)
    holdout_share: float = 0.02
    chunk_chars: int = 4000
    reference: list[str] | None = None  # source names held out for evaluation (default: see variants.py)
    tolerance: float = 0.005  # allowed relative token-count difference between variants
    overrides: list[str] = field(default_factory=list)  # --set key=value on the base recipe
    adopt_out: bool = False  # use an --out that is not empty and that curate did not make
