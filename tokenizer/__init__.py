"""Sentencepiece BPE tokenizer training and parallel encoding into Megatron token shards."""
