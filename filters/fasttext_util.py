"""fastText model loading (a per-process read-only cache) and numpy-2-safe prediction.

``FastText.predict`` fails under numpy 2 ("Unable to avoid copy while creating an array"), so we call
the C++ binding ``model.f.predict`` directly, which returns plain (probability, label) tuples.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import fasttext

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()


def load_model(path: str) -> Any:
    """Load a fastText model once per process (cached by path and file version; models are read-only)."""
    st = os.stat(path)
    key = f"{path}\x00{st.st_mtime_ns}\x00{st.st_size}"
    with _LOCK:
        m = _MODELS.get(key)
        if m is None:
            m = fasttext.FastText._FastText(model_path=path)  # load_model() only adds a stderr warning
            _MODELS[key] = m
        return m


def one_line(text: str) -> str:
    """fastText predicts one line: newlines become spaces, and the line is newline-terminated."""
    return text.replace("\n", " ") + "\n"


def predict_top(model: Any, text: str) -> tuple[str, float]:
    """Top label and its probability for ``text``."""
    res = model.f.predict(one_line(text), 1, 0.0, "strict")
    if not res:
        return "", 0.0
    prob, label = res[0]
    return label, float(prob)


def predict_labels(model: Any, text: str, k: int = -1) -> dict[str, float]:
    """All (or top ``k``) labels with their probabilities."""
    return {label: float(p) for p, label in model.f.predict(one_line(text), k, 0.0, "strict")}
