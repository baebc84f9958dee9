"""File helpers: atomic writes, input path expansion (local globs and fsspec URLs)."""

from __future__ import annotations

import glob
import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.urls import is_url


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """``with atomic_path(p) as tmp``: write ``tmp``; on success it replaces ``p`` in one rename, so ``p``
    either does not exist or is complete, and a failed write (disk full, a kill) leaves no partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def write_json_atomic(obj: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def read_state(path: Path) -> dict | None:
    """A bookkeeping JSON object (stats, markers), or None when it is missing, unreadable or not an object:
    a file damaged by hand or by a crash of the machine then means "not done", and the work is redone."""
    try:
        value = read_json(path)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


class OutsideRun(ValueError):
    """A path read from a run's own bookkeeping (manifest, summary) that leads outside the run."""


def inside_run(run: Path, rel: Any, what: str) -> Path:
    """``run / rel`` when ``rel`` is a relative path that stays inside ``run`` once links are resolved (a
    hand-edited manifest or summary may point at another run's data, or anywhere); else OutsideRun."""
    if not isinstance(rel, str) or not rel or os.path.isabs(rel) or "\x00" in rel:
        raise OutsideRun(f"{run}: {what} {rel!r} is not a relative path inside the run (edited by hand?)")
    p = Path(run) / rel
    if not p.resolve().is_relative_to(Path(run).resolve()):
        raise OutsideRun(f"{run}: {what} {rel!r} leads outside the run (edited by hand?); refusing to read it")
    return p


_VAR = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


class UnsetVariable(ValueError):
    """``${VAR}`` without a default, with VAR unset or empty."""


def sample_dir() -> Path:
    """Where ``curate sample`` builds the sample corpus and where ``${CURATE_DATA}`` points when the variable is
    unset: ``$XDG_DATA_HOME/curate/sample`` (default ``~/.local/share/curate/sample``), the same for a checkout
    and an installed curate."""
    data_home = os.environ.get("XDG_DATA_HOME")
    base = Path(data_home) if data_home and os.path.isabs(data_home) else Path.home() / ".local" / "share"
    return base / "curate" / "sample"


# Variables with a value of their own when unset: the shipped recipes read ${CURATE_DATA}/web/*.warc.gz.
BUILTIN_VARS = {"CURATE_DATA": lambda: str(sample_dir())}


def expand_vars(path: str, where: str = "path") -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}``: the environment's value, else the default, else a built-in
    value (``BUILTIN_VARS``). ``${VAR}`` with VAR unset (or empty) and none of these is an error naming it:
    expanding it to "" would turn ``${DATA}/x`` into the root path ``/x``."""

    def sub(m: re.Match) -> str:
        value = os.environ.get(m.group(1))
        if value:
            return value
        if m.group(2) is not None:
            return m.group(2)
        if m.group(1) in BUILTIN_VARS:
            return BUILTIN_VARS[m.group(1)]()
        raise UnsetVariable(
            f"{where}: environment variable {m.group(1)} is not set and {m.group(0)} "
            f"has no default (write ${{{m.group(1)}:-default}} to give one)"
        )

    return os.path.expanduser(_VAR.sub(sub, path))


def starts_with_env_value(path: str) -> bool:
    """True when ``path`` begins with ``${VAR...}`` and VAR is set: the path then comes from the environment
    (resolved against the working directory), not from the recipe (resolved against its folder)."""
    m = _VAR.match(path)
    return bool(m and os.environ.get(m.group(1)))


def glob_root(pattern: str) -> str:
    """The directory a glob pattern names before its first wildcard (``a/b/*.txt`` -> ``a/b``)."""
    parts = pattern.split(os.sep)
    fixed = []
    for part in parts[:-1]:
        if any(c in part for c in "*?["):
            break
        fixed.append(part)
    return os.sep.join(fixed) or (os.sep if pattern.startswith(os.sep) else ".")


def pinned_glob(path: str, root: str) -> str:
    """A glob pattern matching exactly the local file ``path`` whose root (see ``expand_paths``) is still
    ``root``: how a file matched by a pattern is written back into a recipe without widening what a link
    in it may reach (``/in/b.jsonl`` under root ``/in`` -> ``/in/[b].jsonl``). ``path`` itself when it is
    its own root or lies outside ``root``."""
    path, root = os.path.abspath(path), os.path.abspath(root)
    rel = os.path.relpath(path, root)
    if rel == "." or rel.startswith(".."):
        return glob.escape(path)
    first, _, rest = rel.partition(os.sep)
    i = 1 if first.startswith(".") and len(first) > 1 else 0  # a dot name keeps its literal dot (glob hides it)
    if first[i] in "!]":  # "[!]" would negate, "[]]" is fine but unclear: keep these literal
        return glob.escape(path)
    first = (
        glob.escape(first[:i])
        + (glob.escape(first[i]) if first[i] in "*?[" else f"[{first[i]}]")
        + glob.escape(first[i + 1 :])
    )
    return os.path.join(glob.escape(root), first, *([glob.escape(rest)] if rest else []))


def _expand_remote(pat: str, where: str) -> list[str]:
    """The URLs a remote pattern names, checked now: a missing file, an unknown protocol, a filesystem
    package that is not installed or a host that cannot be reached is one FileNotFoundError naming the
    key, the URL and the cause (not a traceback, nor an error row per file after planning)."""
    import fsspec

    try:
        fs, _, paths = fsspec.get_fs_token_paths(pat)
        if not any(c in pat for c in "*?["):
            fs.info(paths[0])
            return [pat]
        matches = sorted(fs.glob(paths[0])) if paths else []
    except Exception as e:
        cause = e.__cause__ or e
        raise FileNotFoundError(
            f"{where}: remote input {pat!r} cannot be read ({type(cause).__name__}: {str(cause)[:300] or 'not found'})"
        ) from e
    if not matches:
        raise FileNotFoundError(f"{where}: no remote input matches {pat!r}")
    proto = pat.split("://", 1)[0]
    return [m if "://" in m else f"{proto}://{m}" for m in matches]


def expand_paths(patterns: list[str], where: str) -> list[str]:
    """Expand globs, directories stay as they are; each local path is an ``InputPath`` carrying its source
    root (see ``curate.sources.safe``), and a path matched twice is listed once. Raises
    FileNotFoundError naming the missing input."""
    from curate.sources.safe import InputPath

    out: list[str] = []
    for pat in patterns:  # ${VAR} was expanded once, when the recipe was read: a value is data, not a template
        pat = pat[len("file://") :] if pat.startswith("file://") else pat
        if is_url(pat):
            out.extend(_expand_remote(pat, where))
            continue
        if any(c in pat for c in "*?[") and not os.path.lexists(pat):  # "page[1].jsonl" may name a file
            matches = sorted(glob.glob(pat, recursive=True))
            if not matches:
                raise FileNotFoundError(f"{where}: no input file matches {pat!r} (cwd {os.getcwd()})")
            root = glob_root(pat)
            out.extend(InputPath(m, root) for m in matches)
        elif os.path.lexists(pat):
            out.append(InputPath(pat, pat))
        else:
            raise FileNotFoundError(f"{where}: input path does not exist: {pat!r} (cwd {os.getcwd()})")
    seen: set[str] = set()
    return [p for p in out if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]
