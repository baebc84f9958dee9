"""Proxy-model ablations of a recipe (``python -m curate ablate``): the same sources built as several variants
(``raw``, ``curated``, the recipe without one stage...) at one token budget with one tokenizer, a small GPT
trained on each for several seeds, and the loss on held-out reference text compared. See ``run``."""
