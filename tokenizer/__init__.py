"""Sentencepiece BPE tokenizer training and parallel encoding into Megatron token shards."""
from curate.tokenizer.files import tokenize_files, train_tokenizer

__all__ = ["tokenize_files", "train_tokenizer"]
