"""Publish a shard set and its manifest atomically.

A run writes its shards, lineage and a copy of the tokenizer into ``<run>/.shards-staging/``. Publishing
renames that directory to ``<run>/shards-<digest>/`` (the digest of the manifest's content: the same shard set
gets the same name, so an identical re-run replaces nothing), then replaces ``manifest.json`` (the commit
point: one ``os.replace``), then points the ``shards`` symlink at the new set and removes older sets.
``manifest.json`` names files only inside its own set, so a kill at any moment leaves it naming complete,
matching files: the old set until the commit, the new one after.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from curate.io import write_json_atomic
from curate.shards.writer import file_sha256

STAGING = ".shards-staging"
LINK = "shards"
SET_PREFIX = "shards-"
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
    if target.is_dir():  # this very shard set is already published: a set directory is only ever complete
        shutil.rmtree(staging)
    else:
        os.rename(staging, target)
    out = dict(manifest, lineage=f"{name}/lineage",
               tokenizer=dict(manifest["tokenizer"], path=f"{name}/{TOKENIZER}"),
               splits={s: [dict(e, prefix=f"{name}/{e['name']}") for e in v] for s, v in manifest["splits"].items()})
    write_json_atomic(out, run_dir / "manifest.json")
    _point_link(run_dir, name)
    _remove_other_sets(run_dir, name)
    return out


def _remove_other_sets(run_dir: Path, keep: str) -> None:
    for old in run_dir.glob(SET_PREFIX + "*"):
        if old.name != keep and old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)


def _point_link(run_dir: Path, name: str) -> None:
    link = run_dir / LINK
    if link.is_dir() and not link.is_symlink():  # shards written by a version without shard sets
        shutil.rmtree(link)
    tmp = run_dir / f".{LINK}.link.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(name, tmp)
    os.replace(tmp, link)


def check_published(run_dir: Path) -> list[str]:
    """Problems with the published set: files the manifest names that are missing or whose digest differs."""
    m = json.loads((Path(run_dir) / "manifest.json").read_text(encoding="utf-8"))
    problems = []
    wanted = [(m["tokenizer"]["path"], m["tokenizer"]["sha256"])]
    for entries in m["splits"].values():
        for e in entries:
            wanted += [(e["prefix"] + ".bin", e["bin_sha256"]), (e["prefix"] + ".idx", e["idx_sha256"]),
                       (f"{m['lineage']}/{e['name']}.parquet", e["lineage_sha256"])]
    for rel, sha in wanted:
        p = Path(run_dir) / rel
        if not p.is_file():
            problems.append(f"{rel}: missing")
        elif file_sha256(p) != sha:
            problems.append(f"{rel}: sha256 differs from the manifest")
    return problems
