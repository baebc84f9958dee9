"""Publish a shard set and its manifest atomically.

A run writes its shards, lineage and a copy of the tokenizer into ``<run>/.shards-staging/``. Publishing
renames that directory to ``<run>/shards-<digest>/`` (the digest of the manifest's content: the same shard set
gets the same name, so an identical re-run replaces nothing), then replaces ``manifest.json`` (the commit
point: one ``os.replace``), then points the ``shards`` symlink at the new set and removes older sets.
``manifest.json`` names files only inside its own set, so a kill at any moment leaves it naming complete,
matching files: the old set until the commit, the new one after.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from curate.io import write_json_atomic
from curate.partio import file_sha256

STAGING = ".shards-staging"
LINK = "shards"
SET_PREFIX = "shards-"
SET_NAME = re.compile(r"^shards-[0-9a-f]{16}$")
TOKENIZER = "tokenizer.model"


def staging_dir(run_dir: Path) -> Path:
    """A fresh, empty staging directory (what a killed run left there is removed)."""
    d = run_dir / STAGING
    shutil.rmtree(d, ignore_errors=True)
    (d / "lineage").mkdir(parents=True)
    return d


def publish(run_dir: Path, staging: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Publish ``staging`` (shards named by ``manifest["splits"]`` entries, ``lineage/``, ``tokenizer.model``)
    with ``manifest``; returns the manifest as written, with paths relative to ``run_dir``."""
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]
    name = SET_PREFIX + digest
    target = run_dir / name
    if target.is_dir() and _same_files(staging, target):  # this very shard set is already published, intact
        shutil.rmtree(staging)
    else:
        if target.is_dir():  # damaged since (a resume redoes finalize for that): replaced by the new copy
            trash = run_dir / f".{name}.damaged"
            shutil.rmtree(trash, ignore_errors=True)
            os.rename(target, trash)
            shutil.rmtree(trash)
        os.rename(staging, target)
    out = dict(
        manifest,
        lineage=f"{name}/lineage",
        tokenizer=dict(manifest["tokenizer"], path=f"{name}/{TOKENIZER}"),
        splits={s: [dict(e, prefix=f"{name}/{e['name']}") for e in v] for s, v in manifest["splits"].items()},
    )
    write_json_atomic(out, run_dir / "manifest.json")
    _point_link(run_dir, name)
    _remove_other_sets(run_dir, name)
    return out


def _same_files(a: Path, b: Path) -> bool:
    """Whether directory ``b`` holds exactly the files of ``a``, byte for byte."""
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    return files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()) and all(
        filecmp.cmp(a / f, b / f, shallow=False) for f in files
    )


def _remove_other_sets(run_dir: Path, keep: str) -> None:
    """Remove the shard sets published before (``shards-`` and a 16-hex digest: only what ``publish`` names)."""
    for old in run_dir.glob(SET_PREFIX + "*"):
        if old.name != keep and SET_NAME.match(old.name) and old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)


def _point_link(run_dir: Path, name: str) -> None:
    link = run_dir / LINK
    if link.is_dir() and not link.is_symlink():  # shards written by a version without shard sets
        shutil.rmtree(link)
    tmp = run_dir / f".{LINK}.link.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(name, tmp)
    os.replace(tmp, link)


def published_problems(run_dir: Path) -> list[str]:
    """What is wrong with the published set, checked cheaply enough for every resume (no hashing): an
    unreadable ``manifest.json``, a file it names that is missing, a ``.bin`` whose size is not its token
    count, a ``shards`` link that does not point at the set. See ``check_published`` for the digests."""
    run = Path(run_dir)
    try:
        m = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
        entries = [e for v in m["splits"].values() for e in v]
        itemsize = int(np.dtype(m["dtype"]).itemsize)
        sizes = {f"{e['prefix']}.bin": int(e["tokens"]) * itemsize for e in entries}
        files = [
            m["tokenizer"]["path"],
            *(f"{e['prefix']}.idx" for e in entries),
            *(f"{m['lineage']}/{e['name']}.parquet" for e in entries),
        ]
        set_name = Path(m["tokenizer"]["path"]).parts[0]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
        return [f"manifest.json: unreadable ({type(e).__name__}: {e})"]
    problems = [f"{rel}: missing" for rel in files if not (run / rel).is_file()]
    for rel, size in sizes.items():
        if not (run / rel).is_file() or (run / rel).stat().st_size != size:
            problems.append(f"{rel}: missing or not {size} bytes")
    if os.path.realpath(run / LINK) != os.path.realpath(run / set_name):
        problems.append(f"{LINK}: does not point at {set_name}")
    return problems


def check_published(run_dir: Path) -> list[str]:
    """Problems with the published set: files the manifest names that are missing or whose digest differs."""
    m = json.loads((Path(run_dir) / "manifest.json").read_text(encoding="utf-8"))
    problems = []
    wanted = [(m["tokenizer"]["path"], m["tokenizer"]["sha256"])]
    for entries in m["splits"].values():
        for e in entries:
            wanted += [
                (e["prefix"] + ".bin", e["bin_sha256"]),
                (e["prefix"] + ".idx", e["idx_sha256"]),
                (f"{m['lineage']}/{e['name']}.parquet", e["lineage_sha256"]),
            ]
    for rel, sha in wanted:
        p = Path(run_dir) / rel
        if not p.is_file():
            problems.append(f"{rel}: missing")
        elif file_sha256(p) != sha:
            problems.append(f"{rel}: sha256 differs from the manifest")
    return problems
