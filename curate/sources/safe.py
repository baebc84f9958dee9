"""Reading only what a recipe named: regular files inside a source's root, never a link out of it.

Every reader opens local inputs through ``open_input`` and lists directories with ``walk_regular``, so
the rule holds for every format at once:

- a source's *root* is what its pattern names: the directory before the first glob character
  (``books/*.txt`` -> ``books``), or the named file or directory itself. ``curate.io.expand_paths``
  returns ``InputPath`` strings that carry it; a plain string is its own root.
- a symbolic link is followed only when its target (fully resolved) lies inside the root; one that
  leads out of it is refused (``input:outside_root``), whatever it points to.
- only regular files are opened: a FIFO, socket or device is refused (``input:not_regular``) after an
  ``lstat``, and ``open`` uses ``O_NONBLOCK`` (and ``O_NOFOLLOW`` for a path that is not a link), so a
  file swapped for a FIFO between the check and the open cannot block the reader either.

Refusals are ``UnsafeInput`` exceptions carrying the reason; readers turn them into counted drops.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import Any, BinaryIO

from curate.sources.decompress import KINDS, Decompressed, compression_of
from curate.urls import is_local


class UnsafeInput(Exception):
    """An input that is not read: ``reason`` is the drop reason (``input:outside_root``, ...)."""

    def __init__(self, reason: str, path: str):
        super().__init__(f"{reason}: {printable(path)}")
        self.reason, self.path = reason, path


class InputPath(str):
    """A matched input path that remembers the root its pattern named and, when planning set one, the name its
    documents' ids use in its place (``curate.sources.idnames``); both survive pickling to workers."""

    root: str
    id_name: str | None

    def __new__(cls, path: str, root: str, id_name: str | None = None) -> InputPath:
        s = super().__new__(cls, path)
        s.root, s.id_name = root, id_name
        return s

    def __reduce__(self) -> tuple:
        return InputPath, (str(self), self.root, self.id_name)


def printable(s: str) -> str:
    """``s`` as valid UTF-8 text: an undecodable file name's bytes or a lone surrogate become ``\\udcxx``
    escapes (readable, and distinct names stay distinct)."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


def root_of(path: str) -> str:
    return getattr(path, "root", None) or str(path)


def inside_root(path: str, root: str) -> bool:
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def check_path(path: str, root: str | None = None) -> os.stat_result:
    """The ``stat`` of ``path`` when it may be read (a regular file, or a link to one, inside ``root`` once
    every link on the way is resolved: ``root/linkdir/x`` is refused when ``linkdir`` leads out); raises
    UnsafeInput otherwise."""
    st = os.lstat(path)
    if not inside_root(path, root if root is not None else root_of(path)):
        raise UnsafeInput("input:outside_root", path)
    if stat.S_ISLNK(st.st_mode):
        st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeInput("input:not_regular", path)
    return st


def open_regular(path: str, root: str | None = None) -> BinaryIO:
    """Open a local regular file for binary reading under the rules above."""
    root = root if root is not None else root_of(path)
    path = path[len("file://") :] if path.startswith("file://") else path
    link = stat.S_ISLNK(os.lstat(path).st_mode)
    check_path(path, root)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | (0 if link else getattr(os, "O_NOFOLLOW", 0))
    fd = os.open(path, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped after the check
        os.close(fd)
        raise UnsafeInput("input:not_regular", path)
    opened = f"/proc/self/fd/{fd}"
    if link and os.path.islink(opened) and not inside_root(os.readlink(opened), root):
        os.close(fd)  # the link was re-pointed out of the root between the check and the open
        raise UnsafeInput("input:outside_root", path)
    return os.fdopen(fd, "rb")


class _Opened:
    """Context manager: the raw file and, when asked, its decompressing wrapper (closed in order)."""

    def __init__(self, path: str, compression: str | None):
        self.path, self.compression = path, compression
        self.files: list[Any] = []

    def __enter__(self) -> Any:
        comp = compression_of(self.path) if self.compression == "infer" else self.compression
        if comp and comp not in KINDS:  # a .zip: fsspec would read its first member and skip the others
            raise UnsafeInput("input:unsupported_compression", self.path)
        if is_local(self.path):
            self.files.append(open_regular(self.path))
        else:
            import fsspec  # a URL's filesystem: local inputs never need fsspec

            self.files.append(fsspec.open(self.path, "rb").__enter__())
        if comp:
            self.files.append(Decompressed(self.files[-1], comp))
        return self.files[-1]

    def __exit__(self, *exc: Any) -> None:
        for f in reversed(self.files):
            f.close()


def open_input(path: str, compression: str | None = None) -> _Opened:
    """``with open_input(path) as f``: a local input opened safely or an fsspec URL; ``compression="infer"``
    decompresses by extension (``curate.sources.decompress``; a ``.zip`` is refused, ``input:unsupported_compression``)."""
    return _Opened(path, compression)


def input_size(path: str) -> int:
    """Size in bytes of an input that may be read (0 for a refused one: its read reports why)."""
    if not is_local(path):
        import fsspec

        fs, fpath = fsspec.core.url_to_fs(path)
        return fs.size(fpath) or 0
    try:
        return check_path(path).st_size
    except (UnsafeInput, OSError):
        return 0


def walk_regular(root: str, top: str | None = None) -> Iterator[tuple[str, os.stat_result | UnsafeInput]]:
    """Every file under directory ``root`` (a directory's files, then its subdirectories), as (path, stat) when it may be read or
    (path, UnsafeInput) when not. Directories are entered (iteratively: any depth), links to directories
    never (no cycles, no escape); a link to a regular file inside the source root (``top``, default
    ``root``) is read like the file."""
    top = top if top is not None else root_of(root)
    stack: list[str] = [str(root)]
    while stack:
        d = stack.pop()
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as e:
            yield d, UnsafeInput(f"input:unreadable_dir:{type(e).__name__}", d)
            continue
        subdirs = []
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                subdirs.append(e.path)
                continue
            try:
                yield e.path, check_path(e.path, top)
            except UnsafeInput as u:
                yield e.path, u
            except OSError as err:
                yield e.path, UnsafeInput(f"input:unreadable:{type(err).__name__}", e.path)
        stack.extend(reversed(subdirs))


def files_of(paths: list[str]) -> list[str]:
    """``paths`` with each local directory replaced by the files under it (sorted, each an ``InputPath``
    keeping the directory's source root; refused entries stay listed so that their read counts them)."""
    out: list[str] = []
    for p in paths:
        if is_local(p) and os.path.isdir(p) and inside_root(p, root_of(p)):  # a link out is listed, then refused
            out.extend(InputPath(f, root_of(p)) for f in sorted(f for f, _ in walk_regular(p)))
        else:
            out.append(p)
    return out
