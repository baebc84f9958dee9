"""A small GPT that trains on curate's Megatron shards (smoke test for the data, not a training stack)."""
