"""Quality filtering: language ID, Gopher/C4/FineWeb heuristics, line cleaning, GPT-3 quality classifier."""
