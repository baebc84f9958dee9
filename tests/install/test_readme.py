"""README.md is a test. Every ```bash and ```python block of the README runs, in README order, as a
new user would run it: curate installed from a wheel into a fresh venv, in a scratch working directory that
is not the checkout, HOME a scratch folder (so the sample goes to a fresh ~/.local/share/curate/sample);
the venv is the session's ``installed_venv``, shared with test_packaging.py. The blocks are read from
README.md itself, so the README cannot drift from the code.

A block marked ``<!-- readme-test: skip (reason) -->`` in the README (it needs a cluster, a GPU or a
checkout's apt-get set-up) is skipped, and the test says so in a warning with the reason. The few changes
the test makes to a command are listed in REWRITES with their reason; each must match the README exactly
as often as declared, so a README change that drops one fails here. Input files the README names as the
user's own (``docs/*.jsonl.gz``, ``pages.warc.gz``, eval-clean's labels) are real files of the test corpus;
the user's own steps are the repository's ``examples/``.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import REPO

SKIP = re.compile(r"^<!-- readme-test: skip \((.+)\) -->$")

# (pattern, replacement, why, how many README lines it must match)
REWRITES = [
    (r"^pip install \. -c constraints\.txt.*$", "", "the fixture built the wheel and installed it offline", 1),
    (
        r"^curate sample(\s+#.*)?$",
        "curate sample --from {small} --max-code-files 40",
        "the Debian packages are not installed here: a slice of the test corpus, so the suite stays fast",
        1,
    ),
    (r"--steps 200", "--steps 2 --config tiny", "checks the trainer trains on the shards, not how well", 1),
]


@dataclass
class Block:
    line: int
    lang: str
    code: str
    skip: str | None


def readme_blocks(text: str) -> list[Block]:
    """The ```bash and ```python blocks of ``text`` with their line and skip reason."""
    blocks, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        prev = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        skip = SKIP.match(prev.strip())
        if fence.group(1) in ("bash", "python"):
            blocks.append(Block(i + 1, fence.group(1), "\n".join(lines[i + 1 : end]), skip.group(1) if skip else None))
        i = end + 1
    return blocks


def _rewrite(code: str, small: Path, used: dict[str, int]) -> str:
    out = []
    for line in code.splitlines():
        for pattern, repl, _why, _n in REWRITES:
            if re.search(pattern, line):
                used[pattern] += 1
                line = re.sub(pattern, repl.format(small=small), line)
        out.append(line)
    return "\n".join(out)


def _warc_slice(src: Path, dst: Path, records: int) -> None:
    """The first ``records`` WARC records of ``src`` (real pages), one gzip member each."""
    raw = gzip.decompress(src.read_bytes())
    starts = [m.start() for m in re.finditer(rb"WARC/1\.0\r\n", raw)]
    dst.write_bytes(
        b"".join(gzip.compress(raw[a:b], mtime=0) for a, b in zip(starts[:records], starts[1 : records + 1]))
    )


def _inputs(corpus: Path, tmp: Path, work: Path) -> Path:
    """The user's own files the README names, and a small corpus for ``curate sample --from``."""
    small = tmp / "small-corpus"
    for kind in ("web", "wiki", "books"):
        (small / kind).mkdir(parents=True)
    _warc_slice(corpus / "web" / "pages.warc.gz", small / "web" / "pages.warc.gz", 60)
    shutil.copy(corpus / "wiki" / "wiki-sample-pages-articles.xml.bz2", small / "wiki")
    for book in ("pg84.txt", "11-0.txt"):
        shutil.copy(corpus / "books" / book, small / "books")
    _warc_slice(corpus / "web" / "pages.warc.gz", work / "pages.warc.gz", 40)
    (work / "docs").mkdir()
    docs = (corpus / "dedup" / "docs.jsonl").read_bytes().splitlines(keepends=True)
    (work / "docs" / "a.jsonl.gz").write_bytes(gzip.compress(b"".join(docs[:200]), mtime=0))
    (work / "docs" / "b.jsonl.gz").write_bytes(gzip.compress(b"".join(docs[200:]), mtime=0))
    shutil.copy(corpus / "cjk" / "docs.jsonl", work / "docs.jsonl")
    shutil.copy(corpus / "cjk" / "labels.jsonl", work / "labels.jsonl")
    shutil.copytree(REPO / "examples", work / "examples")  # the user's own steps, as in the README's example
    return small


@pytest.mark.slow
def test_every_readme_block_runs_installed_from_an_unrelated_directory(
    corpus: Path, installed_venv: Path, tmp_path: Path
) -> None:
    blocks = readme_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    venv = installed_venv
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    small = _inputs(corpus, tmp_path, work)
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    used = {p: 0 for p, *_ in REWRITES}
    skipped, outputs = [], {}
    for b in blocks:
        if b.skip:
            skipped.append(f"README line {b.line}: {b.skip}")
            continue
        code = _rewrite(b.code, small, used)
        python = str(venv / "bin" / "python")
        cmd = ["bash", "-euo", "pipefail", "-c", code] if b.lang == "bash" else [python, "-c", code]
        p = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, f"README line {b.line} failed:\n{code}\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}"
        outputs[b.line] = p.stdout
    assert used == {p: n for p, _, _, n in REWRITES}, "a rewrite no longer matches the README"
    changed = [f"{pattern!r} -> {repl!r}: {why}" for pattern, repl, why, _n in REWRITES]
    warnings.warn(UserWarning(f"README blocks skipped: {'; '.join(skipped)}. Commands changed: {'; '.join(changed)}"))
    assert skipped and all(r for r in skipped)

    from curate import __version__

    everything = "\n".join(outputs.values())
    assert f"curate {__version__}" in everything
    sample = home / ".local" / "share" / "curate" / "sample"
    assert (sample / "web" / "pages.warc.gz").exists() and f"sample corpus at {sample}" in everything
    gpt3mix = json.loads((work / "runs" / "gpt3mix" / "summary.json").read_text())
    assert gpt3mix["reconciles"] and gpt3mix["stages"][0]["in"] > 0
    manifest = json.loads((work / "runs" / "gpt3mix" / "manifest.json").read_text())
    assert manifest["tokens"]["train"] > 0
    quick = json.loads((work / "runs" / "quickstart" / "summary.json").read_text())
    assert quick["stages"][0]["in"] == 400 and quick["stages"][0]["sources_without_documents"] == []
    assert (work / "runs" / "gpt3mix" / "trainer").is_dir()
    assert "shard train-00000 token 100" in everything  # curate trace on the standalone commands' shards
    assert re.search(r"^all\s", everything, re.M)  # eval-clean's table
    kept, dropped = map(int, re.search(r"^(\d+) kept, mean score [\d.]+; (\d+) dropped", everything, re.M).groups())
    quality = next(s for s in gpt3mix["stages"] if s["stage"] == "quality")
    assert (kept, dropped) == (quality["kept"], quality["dropped_total"])  # the interop readers see the run
