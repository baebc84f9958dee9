"""Train a sentencepiece BPE tokenizer on a deterministic sample of the (mixed) documents.

Sampling: every line of every document *instance* (a document with meta ``repeat = r`` has r instances)
is drawn with probability ``sample_chars / total_chars`` from a generator seeded by
``(seed, id, instance)``, so the sample follows the mix and does not depend on how the data is split
into parts. Training uses ``num_threads=1``: sentencepiece 0.2's BPE trainer gives a different model
with 2 threads than with 1 (checked), and one thread gives byte-identical models run to run.
Normalisation is ``identity`` with whitespace kept, so ``decode(encode(text)) == text`` except for text holding
U+2581 (sentencepiece's whitespace symbol decodes as a space: such documents are counted when encoded); ``"\\n"`` is
a user-defined piece (training lines never contain it). The EOD token is the model's EOS piece (id 1,
a control symbol): the literal string ``<|endoftext|>`` inside a document is encoded as text, never as
the EOD id, and trainers that take end-of-document from the tokenizer find it with no extra flag
(Megatron-LM's ``GPTSentencePieceTokenizer.eod`` is ``eos_id()``; HF ``AutoTokenizer`` reads the
``tokenizer_config.json`` written beside the model).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

MAX_LINE_BYTES = 8192
MODEL_NAME = "tokenizer.model"
EOD_ID = 1  # after <unk> (0); there is no BOS or PAD piece


class VocabTooSmall(ValueError):
    """sentencepiece cannot reach the requested vocabulary size (it needs one piece per character kept)."""


def doc_lines(text: str) -> list[str]:
    """Training 'sentences': non-empty lines, long ones cut into MAX_LINE_BYTES//4-char pieces."""
    step = MAX_LINE_BYTES // 4
    return [ln[i : i + step] for ln in text.split("\n") if ln.strip() for i in range(0, len(ln), step)]


def train_sentencepiece(
    lines: Iterable[str],
    out_dir: str | Path,
    vocab_size: int = 8000,
    eod_token: str = "<|endoftext|>",
    special_tokens: list[str] | None = None,
    byte_fallback: bool = True,
) -> Path:
    """Train BPE on ``lines``; writes ``out_dir/tokenizer.model`` and returns its path."""
    import sentencepiece as spm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = out / MODEL_NAME
    tmp = out / f".{MODEL_NAME}.tmp"
    try:
        with open(tmp, "wb") as f:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(lines),
                model_writer=f,
                model_type="bpe",
                vocab_size=vocab_size,
                byte_fallback=byte_fallback,
                control_symbols=list(special_tokens or []),
                user_defined_symbols=["\n"],
                normalization_rule_name="identity",
                remove_extra_whitespaces=False,
                split_digits=True,
                allow_whitespace_only_pieces=True,
                bos_id=-1,
                eos_id=EOD_ID,
                eos_piece=eod_token,
                pad_id=-1,
                num_threads=1,
                input_sentence_size=0,
                max_sentence_length=MAX_LINE_BYTES,
                character_coverage=0.9995 if byte_fallback else 1.0,
                hard_vocab_limit=False,
                minloglevel=2,
            )
    except RuntimeError as e:
        tmp.unlink(missing_ok=True)
        need = re.search(r"Vocabulary size is smaller than required_chars\. (\d+) vs (\d+)", str(e))
        if need:
            raise VocabTooSmall(
                f"tokenize.vocab_size {vocab_size} is too small: the text has {need.group(2)} "
                f"characters that each need a piece (plus the special ones); use a larger "
                f"vocab_size"
            ) from None
        raise
    tmp.replace(model)
    write_hf_config(out, eod_token)
    return model


def write_hf_config(out_dir: str | Path, eod_token: str) -> Path:
    """``tokenizer_config.json`` beside the model, so ``AutoTokenizer.from_pretrained(out_dir)`` loads it as
    a Llama-style sentencepiece tokenizer with the EOD piece as EOS and no BOS added."""
    cfg = {
        "tokenizer_class": "LlamaTokenizer",
        "eos_token": eod_token,
        "bos_token": None,
        "pad_token": None,
        "unk_token": "<unk>",
        "add_bos_token": False,
        "add_eos_token": False,
        "legacy": False,
        "add_prefix_space": True,
        "clean_up_tokenization_spaces": False,
    }
    path = Path(out_dir) / "tokenizer_config.json"
    path.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    return path


def install_model(src: str | Path, out_dir: str | Path) -> Path:
    """Copy an existing model into ``out_dir`` (reuse by path); returns the copy's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dst = out / MODEL_NAME
    if Path(src).resolve() != dst.resolve():
        shutil.copyfile(src, dst)
    return dst
