"""Hostile recipes, runs and outputs (the sweep after issue 14), class by class: a recipe file is parsed
strictly (a repeated key, an alias bomb, a self-referencing alias, binary or empty or oversized files, deep
nesting are errors naming the file or key); names a stage selects must be sources of the recipe; enumerated
settings are checked when the recipe is read; a stage's model file must exist before any work; bookkeeping
damaged by hand means "redo", never a crash; an ``--out`` the inputs reach is refused; a huge ``--workers``
is capped at the machine's CPUs; the trainer refuses a hand-edited manifest in one line, and a report
survives a damaged section. Inputs: the real books, JSONL documents and recipes of the repository.
"""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from curate import cli
from curate.pipeline import Pipeline
from curate.recipe import MAX_RECIPE_VALUES, RecipeError, load_recipe

REPO = Path(__file__).resolve().parent.parent
QUIET = {"workers": 0, "log": lambda m: None}


def _books(corpus: Path, stages: list | None = None, **extra) -> dict:
    return {"name": "books", "seed": 1, "workers": 0, "stages": stages or [],
            "sources": [{"name": "books", "kind": "books", "format": "text",
                         "paths": [str(corpus / "books" / "pg84.txt"), str(corpus / "books" / "11-0.txt")]}],
            **extra}


def _write(tmp_path: Path, text: str | bytes, name: str = "r.yaml") -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


# ---------------------------------------------------------------- the recipe file


@pytest.mark.parametrize("body,message", [
    ("seed: 1\nseed: 2\n", r"found duplicate key 'seed'"),
    ("stages: [langid: {}]\nstages: [dedup: {}]\n", r"found duplicate key 'stages'"),
    ("stages:\n  - dedup: {threshold: 0.8, threshold: 0.5}\n", r"found duplicate key 'threshold'"),
    ("description: &a [*a]\n", r"a YAML alias refers to a value that contains it"),
    ("description: " + "[" * 3000 + "]" * 3000 + "\n", r"nested too deeply"),
    ("stages: [\n", r"malformed YAML"),
])
def test_a_recipe_file_is_parsed_strictly(corpus: Path, tmp_path: Path, body: str, message: str) -> None:
    base = {k: v for k, v in _books(corpus).items() if k not in ("seed", "stages")}
    with pytest.raises(RecipeError, match=message):
        load_recipe(_write(tmp_path, yaml.safe_dump(base) + body))


def test_an_alias_bomb_is_refused_without_expanding_it(corpus: Path, tmp_path: Path) -> None:
    bomb = "lol0: &l0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 9))  # 10**9 values once expanded
    body = yaml.safe_dump(_books(corpus)) + "description:\n" + "".join("  " + ln for ln in bomb.splitlines(True))
    with pytest.raises(RecipeError, match=f"expands to more than {MAX_RECIPE_VALUES:,} values"):
        load_recipe(_write(tmp_path, body))
    anchors = yaml.safe_dump(_books(corpus)).replace("name: books\n", "name: &n books\ndescription: *n\n", 1)
    assert load_recipe(_write(tmp_path, anchors)).name == "books"  # an ordinary alias is fine


def test_binary_empty_oversized_and_directory_recipe_files(corpus: Path, tmp_path: Path, monkeypatch) -> None:
    warc = (corpus / "web" / "pages.warc.gz").read_bytes()[:2000]
    with pytest.raises(RecipeError, match=r"is not UTF-8 text \(byte 1"):
        load_recipe(_write(tmp_path, warc))
    with pytest.raises(RecipeError, match=r"r\.yaml is empty"):
        load_recipe(_write(tmp_path, ""))
    with pytest.raises(RecipeError, match="is a directory, not a YAML file"):
        load_recipe(tmp_path)
    with pytest.raises(RecipeError, match="expected a mapping of recipe keys at the top level, got list"):
        load_recipe(_write(tmp_path, "- a\n- b\n"))
    import curate.recipe as recipe_mod

    monkeypatch.setattr(recipe_mod, "MAX_RECIPE_BYTES", 1000)
    big = yaml.safe_dump(_books(corpus, description=(corpus / "books" / "11-0.txt").read_text("utf-8")[:5000]))
    with pytest.raises(RecipeError, match=r"r\.yaml is \d[\d,]* bytes; the limit is 1,000"):
        load_recipe(_write(tmp_path, big))


@pytest.mark.parametrize("override,message", [
    ("stages.9.threshold=0.5", r"--set stages\.9\.threshold: stages has 1 items, no item 9"),
    ("seed.x=1", r"--set seed\.x: seed is not a mapping"),
    ("sources.0.paths.x=1", r"--set sources\.0\.paths\.x: sources\.0\.paths is not a mapping"),
    ("seed=[", r"--set seed: malformed YAML"),
    (".x=1", r"--set \.x: expected a dotted key"),
    ("stages=1", None),  # parsed, then refused by validation naming the key
])
def test_set_overrides_fail_naming_the_option(corpus: Path, tmp_path: Path, override: str, message: str | None) -> None:
    p = _write(tmp_path, yaml.safe_dump(_books(corpus, stages=[{"dedup": {}}])))
    with pytest.raises(RecipeError, match=message or r"^stages: expected a list"):
        load_recipe(p, [override])


def test_standalone_key_values_fail_naming_the_option(corpus: Path, tmp_path: Path, capsys) -> None:
    docs = str(corpus / "dedup" / "docs.jsonl")
    assert cli.main(["mix", "--input", docs, "--output", str(tmp_path / "o.jsonl"), "--weight", "web=lots"]) == 2
    assert capsys.readouterr().err.startswith("error: --weight web: expected a number, got 'lots'")
    assert cli.main(["dedup", "--input", docs, "--output", str(tmp_path / "o.jsonl"), "--set", "ngram=["]) == 2
    assert capsys.readouterr().err.startswith("error: --set ngram: malformed YAML")


# ---------------------------------------------------------------- what the recipe says


@pytest.mark.parametrize("stages,message", [
    ([{"langid": {}, "only": ["bokos"]}], r"stages\[0\]\.only: 'bokos' is not a source of this recipe "
                                          r"\(sources: books; kinds: books\)"),
    ([{"mix": {"weights": {"books": 1, "wiki": 1}}}], r"stages\[0\]\.mix\.weights: 'wiki' is not a source"),
    ([{"quality": {"positives": ["books"], "negatives": ["wbe"]}}], r"stages\[0\]\.quality\.negatives: 'wbe'"),
    ([{"quality": {"mode": "paretoo"}}], r"stages\[0\]\.quality\.mode: 'paretoo' is not one of 'pareto', "
                                         r"'threshold'"),
    ([{"dedup": {"hash": "md5"}}], r"stages\[0\]\.dedup\.hash: 'md5' is not one of 'fast', 'sha1'"),
    ([{"dedup": {"num_perm": 128, "bands": 20, "rows": 10}}], r"stages\[0\]\.dedup\.rows: 10 is out of range"),
    ([{"dedup": {"seed": 2**40}}], r"stages\[0\]\.dedup\.seed: \d+ is out of range"),
    ([{"holdout": {"share": 1.5}}], r"stages\[0\]\.holdout\.share: 1\.5 is out of range"),
])
def test_settings_are_checked_when_the_recipe_is_read(corpus: Path, stages: list, message: str) -> None:
    with pytest.raises(RecipeError, match=message):
        Pipeline.from_dict(_books(corpus, stages))


def test_source_names_in_the_data_are_not_checked(corpus: Path) -> None:
    r = {"name": "docs", "sources": [{"name": "docs", "kind": "web", "format": "documents-jsonl",
                                      "paths": [str(corpus / "dedup" / "docs.jsonl")]}],
         "stages": [{"mix": {"weights": {"wiki": 1, "web": 1}}}]}  # rows carry their own source names
    assert Pipeline.from_dict(r).recipe.stages[0].config["weights"] == {"wiki": 1, "web": 1}


@pytest.mark.parametrize("name", ["../../elsewhere", "a/b", "..", ""])
def test_a_recipe_name_is_a_plain_name(corpus: Path, name: str) -> None:
    with pytest.raises(RecipeError, match=r"^name: .* is not a plain name"):
        Pipeline.from_dict(_books(corpus, name=name))


def test_a_missing_model_file_fails_before_any_work(corpus: Path, tmp_path: Path) -> None:
    r = _books(corpus, [{"dedup_exact": {}}, {"langid": {"model": str(tmp_path / "lid.ftz")}}])
    with pytest.raises(RecipeError, match=r"stages\[1\]\.langid\.model: no such file"):
        Pipeline.from_dict(r).run(out=tmp_path / "run", **QUIET)
    assert not (tmp_path / "run" / "stages").exists()


# ---------------------------------------------------------------- runs


def test_an_out_the_inputs_reach_is_refused(corpus: Path, tmp_path: Path) -> None:
    books = tmp_path / "books"
    books.mkdir()
    (books / "pg84.txt").write_bytes((corpus / "books" / "pg84.txt").read_bytes())
    for paths in ([str(books)], [str(books / "**" / "*.txt")], [str(books / "*")]):
        r = _books(corpus)
        r["sources"][0]["paths"] = paths
        with pytest.raises(RecipeError, match=r"sources\[0\] \(books\)\.paths: .* reaches the output directory"):
            Pipeline.from_dict(r).run(out=books / "run", **QUIET)
    r["sources"][0]["paths"] = [str(books / "*.txt")]  # a glob that cannot match the run's files is fine
    assert Pipeline.from_dict(r).run(out=books / "run", **QUIET)["stages"][0]["kept"] == 1


def test_damaged_bookkeeping_is_redone_not_a_crash(corpus: Path, tmp_path: Path) -> None:
    r = _books(corpus, [{"dedup_exact": {}}])
    run = tmp_path / "run"
    Pipeline.from_dict(r).run(out=run, **QUIET)
    parts = {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.glob("*/*/part-*.parquet"))}
    state = sorted(p for p in (run / "_state").rglob("*") if p.is_file() and p.suffix in (".json", ".pkl"))
    assert any(p.name == "_SUCCESS.json" for p in state) and any(p.parent.name == "parts" for p in state)
    for f in state:  # each file cut in half (a crash of the machine, an editor), or made a foreign value
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2] if f.suffix == ".pkl" or "parts" in str(f)
                      else json.dumps([1, 2]).encode())
    s = Pipeline.from_dict(r).run(out=run, **QUIET)
    assert s["reconciles"] and s["stages"][0]["kept"] == 2
    assert {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.glob("*/*/part-*.parquet"))} == parts


def test_huge_workers_are_capped_at_the_machines_cpus(monkeypatch) -> None:
    import curate.executor as ex

    started: list[int] = []
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ex, "RayExecutor", lambda workers: started.append(workers) or workers)
    logs: list[str] = []
    cpus = len(os.sched_getaffinity(0))
    assert ex.make_executor(10**9, logs.append) == cpus and started == [cpus]
    assert logs == [f"workers: {10**9} is more than the {cpus} CPUs of this machine; using {cpus}"]
    assert ex.make_executor(1, logs.append) == 1 and len(logs) == 1


# ---------------------------------------------------------------- outputs


@pytest.fixture(scope="module")
def shard_run(corpus: Path, tmp_path_factory) -> Path:
    from tests.test_shards_corpus import build_run, corpus_docs, write_parts

    d = tmp_path_factory.mktemp("shardrun")
    build_run(write_parts(corpus_docs(corpus)[:40], 1, d / "in"), d, seed=3, vocab_size=512, val_fraction=0.1)
    return d


def _trainer(manifest: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("CURATE_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "curate.trainer", "--manifest", str(manifest), "--steps", "1",
                           "--config", "tiny", "--device", "cpu", *extra], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_hand_edited_manifest_is_refused_in_one_line(shard_run: Path, tmp_path: Path) -> None:
    from curate.trainer.train import train

    good = json.loads((shard_run / "manifest.json").read_text())
    entry = good["splits"]["train"][0]
    edits = {"not JSON": "{", "a list": [], "vocab_size 'x'": dict(good, vocab_size="x"),
             "dtype float99": dict(good, dtype="float99"), "splits list": dict(good, splits=[1]),
             "tokenizer str": dict(good, tokenizer="x"),
             "no prefix": dict(good, splits={"train": [{k: v for k, v in entry.items() if k != "prefix"}]}),
             "prefix outside": dict(good, splits={"train": [dict(entry, prefix="../../../../etc/hostname")]}),
             "no train": dict(good, splits={"train": []})}
    for what, m in edits.items():
        f = shard_run / "manifest.edited.json"
        f.write_text(m if isinstance(m, str) else json.dumps(m))
        with pytest.raises(SystemExit, match="^trainer: refusing manifest: "):
            train(f, steps=1, device="cpu", log=lambda s: None)
    p = _trainer(shard_run / "manifest.edited.json", "--batch-size", "0")  # bad flags: one line, no traceback
    assert p.returncode != 0 and p.stderr.strip() == "trainer: --batch-size 0 is out of range (must be >= 1)"
    (tmp_path / "ckpt.pt").write_bytes(b"not a checkpoint")
    p = _trainer(shard_run / "manifest.json", "--resume", str(tmp_path / "ckpt.pt"))
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith(f"trainer: cannot load checkpoint {tmp_path / 'ckpt.pt'}")


def test_too_few_tokens_for_one_window_is_said_clearly(shard_run: Path, monkeypatch) -> None:
    from curate.trainer.data import Windows, load_manifest
    from curate.trainer.train import train

    _, splits = load_manifest(shard_run / "manifest.json")
    biggest = max(r.tokens.size for r in splits["train"])
    with pytest.raises(SystemExit, match=rf"no train shard has more than block_size\+1 = {biggest + 1} tokens "
                                         rf"\(the largest has {biggest}\): too little data for one training window"):
        Windows(splits["train"], biggest, seed=0)
    val = max(r.tokens.size for r in splits["val"])
    assert val < biggest
    logs: list[str] = []
    from curate.trainer import model

    monkeypatch.setitem(model.CONFIGS, "tiny", dict(model.CONFIGS["tiny"], block_size=val))  # val < one window
    h = train(shard_run / "manifest.json", steps=1, config="tiny", device="cpu", out=shard_run / "t", batch_size=1,
              cpu_threads=1, log=logs.append)
    assert h["train"] and not h["val"]
    assert "trainer: no validation shard holds one window (block_size+1 tokens); no validation loss" in logs


def test_a_damaged_trainer_metrics_file_costs_its_report_section_only(corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    Pipeline.from_dict(_books(corpus)).run(out=run, **QUIET)
    (run / "trainer").mkdir()
    (run / "trainer" / "metrics.json").write_text('{"train": [[1, 2.5], [2')  # a trainer killed mid-write
    from curate.report import write_report

    page = write_report(run).read_text()
    assert "not shown: JSONDecodeError" in page and "Stages" in page


@pytest.fixture(scope="module")
def tokenized(corpus: Path, tmp_path_factory) -> tuple[Path, dict]:
    run = tmp_path_factory.mktemp("tok") / "run"
    r = _books(corpus, [{"tokenize": {"vocab_size": 600, "shard_tokens": 50_000, "val_fraction": 0.3}}])
    Pipeline.from_dict(r).run(out=run, **QUIET)
    return run, r


def _published(run: Path) -> dict[str, bytes]:
    files = [run / "manifest.json", *sorted(p for p in (run / "shards").rglob("*") if p.is_file())]
    return {str(p.relative_to(run)): p.read_bytes() for p in files}


@pytest.mark.parametrize("damage", ["manifest cut", "manifest edited", "bin cut", "set removed", "link removed"])
def test_a_damaged_shard_set_is_republished_on_resume(tokenized, damage: str) -> None:
    run, r = tokenized
    before = _published(run)
    manifest = run / "manifest.json"
    bin_file = sorted((run / "shards").glob("train-*.bin"))[0]
    if damage == "manifest cut":
        manifest.write_bytes(manifest.read_bytes()[:200])
    elif damage == "manifest edited":
        m = json.loads(manifest.read_text())
        m["splits"]["train"][0]["tokens"] += 7
        manifest.write_text(json.dumps(m))
    elif damage == "bin cut":
        bin_file.write_bytes(bin_file.read_bytes()[:1000])
    elif damage == "set removed":
        import shutil

        shutil.rmtree((run / "shards").resolve())
    else:
        (run / "shards").unlink()
    logs: list[str] = []
    s = Pipeline.from_dict(r).run(out=run, workers=0, log=logs.append)
    assert any("[01_tokenize] redoing finalize:" in m for m in logs), logs
    assert s["reconciles"] and _published(run) == before


def test_standalone_inputs_of_the_wrong_kind_are_one_line(corpus: Path, tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "o.jsonl")
    (tmp_path / "docs.jsonl").mkdir()
    assert cli.main(["dedup", "--input", str(tmp_path / "docs.jsonl"), "--output", out]) == 2
    assert capsys.readouterr().err.startswith(f"error: --input {tmp_path / 'docs.jsonl'} is a directory; give its "
                                              "files or a glob")
    bad_model = tmp_path / "sp.model"
    bad_model.write_bytes((corpus / "books" / "pg84.txt").read_bytes()[:4096])
    docs = str(corpus / "dedup" / "docs.jsonl")
    assert cli.main(["tokenize", "--input", docs, "--out", str(tmp_path / "t"), "--model", str(bad_model)]) == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith(f"error: tokenize.model: {str(bad_model)!r} is not a "
                                                               "sentencepiece model")
    assert cli.main(["eval-clean", "--labels", docs, "--input", docs]) == 2  # documents are not labels
    assert capsys.readouterr().err.startswith(f"error: {docs}: label record 1 (id 'd00000') needs id, doc_label")
    warc = tmp_path / "labels.jsonl"
    warc.write_bytes((corpus / "web" / "pages.warc.gz").read_bytes()[:3000])
    assert cli.main(["eval-clean", "--labels", str(warc), "--input", docs]) == 2
    assert capsys.readouterr().err.startswith(f"error: {warc}, line 1: not a JSON line")


def test_trace_refuses_a_hand_edited_manifest_clearly(shard_run: Path, tmp_path: Path) -> None:
    import shutil

    from curate.trace import TraceError, trace

    run = tmp_path / "copy"
    shutil.copytree(shard_run, run, symlinks=True)
    good = json.loads((run / "manifest.json").read_text())
    entry = good["splits"]["train"][0]
    for m, message in [([], "not a curate shard manifest"),
                       ({k: v for k, v in good.items() if k != "eod_id"}, "needs splits, lineage and eod_id"),
                       (dict(good, splits={"train": ["x"]}), "a shard entry is malformed"),
                       (dict(good, splits={"train": [{k: v for k, v in entry.items() if k != "name"}]}),
                        "a shard entry is malformed"),
                       (dict(good, lineage="nope/lineage"), "cannot read its lineage")]:
        (run / "manifest.json").write_text(json.dumps(m))
        with pytest.raises(TraceError, match=message):
            trace(run, 0, 1)
    (run / "manifest.json").write_text(json.dumps(dict(good, documents=["../../../../etc/hostname"])))
    assert trace(run, 0, 1)["text"] is None  # a document path outside the run is never read


def test_settings_that_would_fail_every_batch_or_never_end_are_refused(corpus: Path, tmp_path: Path) -> None:
    for stage, cfg, message in [
        ("clean_lines", {"site_repeat_partitions": 0}, r"clean_lines\.site_repeat_partitions: 0 is out of range"),
        ("clean_lines", {"spam_block_min_lines": -1}, r"clean_lines\.spam_block_min_lines: -1 is out of range"),
        ("clean_lines", {"layout": {"table_min_rows": -1}}, r"clean_lines\.layout\.table_min_rows: -1 is out"),
        ("heuristics", {"fineweb": {"table_min_rows": -1}}, r"heuristics\.fineweb\.table_min_rows: -1 is out"),
        ("dedup", {"num_perm": 10**9}, r"dedup\.num_perm: 1000000000 is out of range \(must be >= 1 and <= 8192\)"),
    ]:
        with pytest.raises(RecipeError, match=message):
            Pipeline.from_dict(_books(corpus, [{stage: cfg}]))
    with pytest.raises(RecipeError, match=r"stages\[0\]\.clean_lines\.lexicon: no such file"):
        Pipeline.from_dict(_books(corpus, [{"clean_lines": {"lexicon": str(tmp_path / "lex.yaml")}}])).run(
            out=tmp_path / "run", **QUIET)
    s = Pipeline.from_dict(_books(corpus, [{"dedup_exact": {"tasks": 10**9}}])).run(out=tmp_path / "r2", **QUIET)
    assert s["stages"][1]["kept"] == 2  # partitions capped at the documents: two tasks, not 10**9
