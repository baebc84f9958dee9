"""End to end on real data: the gpt3mix stages over web, wiki, books and code from the test corpus."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.e2e import run_curate, shard_bytes


@pytest.fixture(scope="module")
def e2e_run(e2e_clean_run) -> Path:
    return e2e_clean_run[0]


def test_every_stage_reconciles_and_every_kind_reaches_the_shards(e2e_run):
    summary = json.loads((e2e_run / "summary.json").read_text())
    assert summary["reconciles"]
    for st in summary["stages"]:
        assert st["in"] == st["kept"] + st["dropped_total"] + st["errors_total"], st["dir"]
    names = [s["stage"] for s in summary["stages"]]
    assert names == [
        "read",
        "url_filter",
        "extract",
        "decontaminate",
        "code_filters",
        "langid",
        "clean_lines",
        "heuristics",
        "quality",
        "dedup_exact",
        "dedup",
        "mix",
        "tokenize",
    ]
    read = summary["stages"][0]["by_source"]
    assert set(read) == {"web", "wiki", "books", "code"} and read["web"]["kept"] == 256
    manifest = json.loads((e2e_run / "manifest.json").read_text())
    text = json.dumps(manifest)
    for kind in ("web", "wiki", "books", "code"):
        assert f'"{kind}"' in text
    # dropped rows are inspectable with reasons
    assert any((e2e_run / "dropped").rglob("part-*.parquet"))


def test_same_seed_gives_identical_shards_with_one_worker(e2e_run, corpus, tmp_path):
    run_curate(tmp_path / "w1", corpus, "--workers", "1")
    assert shard_bytes(tmp_path / "w1") == shard_bytes(e2e_run)


def test_report_renders_in_headless_chromium(e2e_run, tmp_path):
    import matplotlib.image as mpimg

    report = e2e_run / "report.html"
    assert report.exists()
    html = report.read_text()
    for section in ("Stages", "Quality classifier", "Languages", "Deduplication", "Mixture", "Tokenizer and shards"):
        assert f"<h2>{section}</h2>" in html, section
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,2400",
            report.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    img = mpimg.imread(shot)[..., :3]
    non_white = (img.mean(axis=2) < 0.95).mean()
    assert non_white > 0.05, f"screenshot is nearly blank ({non_white:.3f} non-white)"
    assert img.std() > 0.05
