"""File helpers: atomic writes, input path expansion (local globs and fsspec URLs)."""
from __future__ import annotations

import glob
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    """Write ``table`` so that ``path`` either does not exist or is complete (tmp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def write_json_atomic(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def is_url(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


_VAR = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def expand_vars(path: str) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}`` (so a recipe can say ``${CURATE_DATA:-data/sample}``)."""
    return os.path.expanduser(_VAR.sub(lambda m: os.environ.get(m.group(1)) or (m.group(2) or ""), path))


def expand_paths(patterns: list[str], where: str) -> list[str]:
    """Expand globs, directories stay as they are. Raises FileNotFoundError naming the missing input."""
    out: list[str] = []
    for pat in patterns:
        pat = expand_vars(pat)
        if is_url(pat):
            import fsspec

            fs, _, paths = fsspec.get_fs_token_paths(pat)
            if any(c in pat for c in "*?["):
                matches = sorted(fs.glob(paths[0])) if paths else []
                if not matches:
                    raise FileNotFoundError(f"{where}: no remote input matches {pat!r}")
                proto = pat.split("://", 1)[0]
                out.extend(m if "://" in m else f"{proto}://{m}" for m in matches)
            else:
                out.append(pat)
            continue
        if any(c in pat for c in "*?["):
            matches = sorted(glob.glob(pat, recursive=True))
            if not matches:
                raise FileNotFoundError(f"{where}: no input file matches {pat!r} (cwd {os.getcwd()})")
            out.extend(matches)
        elif os.path.exists(pat):
            out.append(pat)
        else:
            raise FileNotFoundError(f"{where}: input path does not exist: {pat!r} (cwd {os.getcwd()})")
    return out
