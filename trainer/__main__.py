"""python -m trainer --manifest runs/<r>/manifest.json --steps N [--config auto|cpu|small|gpt2|tiny] [--eval F.jsonl]

Trains the bundled GPT on a run's token shards. The default model (--config auto) is chosen by device and
printed at the start: "small" (nanoGPT's baby GPT, 13.7M parameters at vocab 8000) on a GPU, "cpu" (1.1M) on a
CPU, where 200 steps take about a minute on 2 cores."""

from __future__ import annotations

import argparse
import os
import sys

from curate.trainer.model import CONFIGS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m trainer", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--manifest", required=True, help="a run's manifest.json (its shards and tokenizer)")
    p.add_argument("--steps", type=int, default=200, help="training steps (default 200)")
    p.add_argument(
        "--config",
        default="auto",
        choices=["auto"] + sorted(CONFIGS),
        help="model size; auto (default): small on a GPU, cpu on a CPU",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")
    p.add_argument(
        "--output", "--out", dest="out", default=None, help="checkpoint folder (default: <manifest dir>/trainer)"
    )
    p.add_argument("--batch-size", type=int, default=None, help="sequences per step (default: the config's)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the config's)")
    p.add_argument("--eval-every", type=int, default=None, help="steps between validation losses (default steps/10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation and the batches (default 0)")
    p.add_argument("--resume", default=None, help="continue from a checkpoint")
    p.add_argument(
        "--cpu-threads", type=int, default=None, help="torch CPU threads (default: 1 for the cpu config, else torch's)"
    )
    p.add_argument(
        "--eval",
        action="append",
        default=[],
        metavar="PATH.jsonl",
        help="held-out JSONL (a 'text' per line) scored per file in nats/token and bits/byte",
    )
    p.add_argument(
        "--schedule",
        default="constant",
        choices=["constant", "cosine"],
        help="learning rate: constant, or 5%% warm-up then cosine decay to 10%%",
    )
    p.add_argument("--eval-tokens", type=int, default=16384, help="tokens scored per evaluation file (cap)")
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    from curate.cli import describe_failure
    from curate.trainer.train import train

    try:
        train(
            a.manifest,
            a.steps,
            config=a.config,
            device=a.device,
            out=a.out,
            batch_size=a.batch_size,
            lr=a.lr,
            eval_every=a.eval_every,
            seed=a.seed,
            resume=a.resume,
            cpu_threads=a.cpu_threads,
            eval_files=a.eval,
            eval_tokens=a.eval_tokens,
            schedule=a.schedule,
        )
    except KeyboardInterrupt:
        if os.environ.get("CURATE_DEBUG"):
            raise
        print("trainer: interrupted (Ctrl-C); the checkpoint of the last finished run is kept", file=sys.stderr)
        return 130
    except Exception as e:  # one line, like curate's commands; a traceback only with CURATE_DEBUG=1
        if os.environ.get("CURATE_DEBUG"):
            raise
        print(describe_failure(e, resumes=False).replace("error:", "trainer: error:", 1), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
