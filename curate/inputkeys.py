"""What a run read, as resume keys: a digest of each input's content, so a re-run never reuses the reading
of a file that changed.

A local file's digest is the SHA-256 of its bytes (a directory unit's, of its files' paths and digests).
Hashing is paid once per changed file: the digest is cached with the file's size, ``st_mtime_ns``,
``st_ctime_ns`` and inode, and reused only while all four are unchanged. ``st_ctime`` is set by the
kernel on every write or rename and cannot be set by a user (``touch -d`` and ``cp -p`` restore only
the mtime), so a same-size rewrite that restores the mtime still changes the key and is hashed again.
A remote object's digest is its ETag / version id / generation / MD5 as its store reports it; a store
that reports none of them (plain HTTP) is hashed by reading the object.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from curate.io import is_url
from curate.sources.safe import UnsafeInput, check_path, inside_root, open_regular, root_of, walk_regular

HASH_BLOCK = 1 << 20
REMOTE_TAGS = (
    "ETag",
    "etag",
    "VersionId",
    "version_id",
    "generation",
    "md5Hash",
    "md5",
    "LastModified",
    "last_modified",
    "mtime",
    "size",
)
REMOTE_IDS = ("ETag", "etag", "VersionId", "version_id", "generation", "md5Hash", "md5")


def _sha_stream(f: Any) -> str:
    h = hashlib.sha256()
    for block in iter(lambda: f.read(HASH_BLOCK), b""):
        h.update(block)
    return h.hexdigest()


def _stat_sig(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _local_files(path: str) -> list[tuple[str, os.stat_result | UnsafeInput]]:
    """The files a unit reads, under the readers' rules (``curate.sources.safe``): the file itself, or the files
    below a directory; each with its stat, or the reason it is refused (a FIFO, a link out of the root), which
    is never opened."""
    root = root_of(path)
    if os.path.isdir(path) and inside_root(path, root):
        return list(walk_regular(path, root))
    try:
        return [(path, check_path(path, root))]
    except UnsafeInput as e:
        return [(path, e)]


def _local_digest(path: str, cache: dict[str, list], new: dict[str, list]) -> str:
    parts = []
    for f, st in _local_files(path):
        try:
            if isinstance(st, UnsafeInput):
                raise st
            sig = _stat_sig(st)
            old = cache.get(f)
            if old is not None and old[:-1] == sig:
                sha = old[-1]
            else:
                with open_regular(f, root_of(path)) as fh:
                    sha = _sha_stream(fh)
            new[f] = sig + [sha]
        except UnsafeInput as e:  # refused by the reader too: the key says so, and changes when it does
            sha = f"refused:{e.reason}"
        except OSError as e:  # unreadable or gone: its read counts the error; the key says which
            sha = f"unreadable:{type(e).__name__}"
        parts.append(f"{os.path.relpath(f, path) if f != path else ''}\x00{sha}")
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _remote_digest(url: str) -> str:
    import fsspec

    try:
        fs, p = fsspec.core.url_to_fs(url)
        info = fs.info(p)
        tags = {k: str(info[k]) for k in REMOTE_TAGS if info.get(k) is not None}
        if not any(k in tags for k in REMOTE_IDS):
            with fs.open(p, "rb") as f:
                tags["sha256"] = _sha_stream(f)
    except Exception as e:  # unreachable now: its read reports it; the key changes when it comes back
        return f"unreachable:{type(e).__name__}"
    return hashlib.sha256(repr(sorted(tags.items())).encode()).hexdigest()


def digest_paths(items: list[tuple[str, dict[str, list]]]) -> list[tuple[str, dict[str, list]]]:
    """For each ``(unit path, cached entries of its files)``: ``(digest, fresh entries)`` (run as a task)."""
    out = []
    for path, cache in items:
        new: dict[str, list] = {}
        out.append((_remote_digest(path) if is_url(path) else _local_digest(path, cache, new), new))
    return out
