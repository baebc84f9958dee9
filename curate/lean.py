"""Keep a process to the modules its run uses.

pyarrow imports pandas (~43 MB of PSS, 0.2-0.4 s of CPU) the first time it converts Python objects, only
to ask whether they are pandas objects. Curate never hands pyarrow a pandas object, so each process
settles that probe once with pandas hidden; an explicit ``to_pandas``/``from_pandas`` still imports pandas
(pyarrow retries the import when a caller needs it).
"""
from __future__ import annotations

import sys
from typing import Any


class _HidePandas:
    """A meta-path finder under which ``import pandas`` fails as if pandas were not installed."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError(f"{name} hidden from pyarrow's first conversion (curate.lean)")
        return None


def arrow_without_pandas() -> None:
    """Make pyarrow's one-time pandas probe find no pandas (a no-op once pandas is loaded)."""
    import pyarrow as pa

    if "pandas" in sys.modules:
        return
    hide = _HidePandas()
    sys.meta_path.insert(0, hide)
    try:
        pa.array([""])
    finally:
        sys.meta_path.remove(hide)
