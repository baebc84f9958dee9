"""The name an input file goes by in its documents' ids, so that ids do not depend on where the inputs lie.

A document id hashes its source, its place and its text (``curate.schema.doc_id``). The place starts with the
input's path; an absolute path would make every id, and so every choice made by id (the survivor of a group
of duplicates, the quality model's held-out split, a mixture's draws), depend on where the data is mounted or
the project is cloned. The id uses the path below the input's source root instead: ``/data/crawl/a/x.warc``
matched by ``/data/crawl/*/*.warc`` is ``a/x.warc``; a file (or directory) named as such is its own name
(``x.warc``). A URL is its own name. Two inputs of one source with the same name (``/a/x.warc`` and
``/b/x.warc``) would give the same ids to the same records, so planning gives both their absolute paths
(``unique_id_names``). Names that nest (a directory input named ``x`` beside one named ``x/y`` from another
root), or that a reader's key makes equal (``curate.docfiles`` drops format extensions: ``docs.jsonl`` and
``docs.jsonl.gz``), are not compared: two records there share an id only if their texts are the same too,
and dedup keys rows by position, not by id.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

from curate.sources.safe import InputPath, root_of
from curate.urls import is_local


def id_name(path: str) -> str:
    """The name ``path`` goes by in ids: the one planning set, else its path below its source root (its own
    name when it is the root). A path no pattern matched (a plain string, as a reader is handed when called
    directly) is named as it is given: only planning can see that names are unique in the source."""
    named = getattr(path, "id_name", None)
    if named is not None:
        return named
    if not isinstance(path, InputPath) or not is_local(path):
        return str(path)
    full, root = os.path.abspath(path), os.path.abspath(path.root)
    if full == root:
        return os.path.basename(full) or full
    if not full.startswith(root.rstrip(os.sep) + os.sep):
        return full  # not below its root (planning refuses to read it): nothing to cut
    return os.path.relpath(full, root)


def id_location(path: str, location: str) -> str:
    """``location`` as an id hashes it: its leading ``path`` replaced by ``id_name(path)``."""
    stem = str(path).rstrip("/") or str(path)
    if not location.startswith(stem):
        return location
    return id_name(path).rstrip("/") + location[len(stem) :]


def unique_id_names(units: Sequence[Any]) -> list[Any]:
    """``units`` (of one source), with each input whose id name another input of the source shares named by
    its absolute path instead, so no two inputs give their records the same ids."""
    first: dict[str, str] = {}
    clash: set[str] = set()
    for u in units:
        name, real = id_name(u.path), _real(u.path)
        if first.setdefault(name, real) != real:
            clash.add(name)
    if not clash:
        return list(units)
    return [
        dataclasses.replace(u, path=InputPath(str(u.path), root_of(u.path), _real(u.path)))
        if id_name(u.path) in clash
        else u
        for u in units
    ]


def _real(path: str) -> str:
    return os.path.abspath(path) if is_local(path) else str(path)
