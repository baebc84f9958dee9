"""Hostile recipe files and settings: a recipe file is parsed strictly (a repeated key, an alias bomb, a
self-referencing alias, binary or empty or oversized files, deep nesting are errors naming the file or key);
``--set`` overrides fail naming the option; names a stage selects must be sources of the recipe; enumerated
settings, and settings that would fail every batch or never end, are refused when the recipe is read; a
recipe name is a plain name. Inputs: the real books and JSONL documents and the repository's recipes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from curate.pipeline import Pipeline
from curate.recipe import MAX_RECIPE_VALUES, RecipeError, load_recipe
from tests.support.recipes import QUIET, books_recipe


def _write(tmp_path: Path, text: str | bytes, name: str = "r.yaml") -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


# ---------------------------------------------------------------- the recipe file


@pytest.mark.parametrize(
    "body,message",
    [
        ("seed: 1\nseed: 2\n", r"found duplicate key 'seed'"),
        ("stages: [langid: {}]\nstages: [dedup: {}]\n", r"found duplicate key 'stages'"),
        ("stages:\n  - dedup: {threshold: 0.8, threshold: 0.5}\n", r"found duplicate key 'threshold'"),
        ("description: &a [*a]\n", r"a YAML alias refers to a value that contains it"),
        ("description: " + "[" * 3000 + "]" * 3000 + "\n", r"nested too deeply"),
        ("stages: [\n", r"malformed YAML"),
    ],
)
def test_a_recipe_file_is_parsed_strictly(corpus: Path, tmp_path: Path, body: str, message: str) -> None:
    base = {k: v for k, v in books_recipe(corpus).items() if k not in ("seed", "stages")}
    with pytest.raises(RecipeError, match=message):
        load_recipe(_write(tmp_path, yaml.safe_dump(base) + body))


def test_an_alias_bomb_is_refused_without_expanding_it(corpus: Path, tmp_path: Path) -> None:
    bomb = "lol0: &l0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 9)
    )  # 10**9 values once expanded
    body = yaml.safe_dump(books_recipe(corpus)) + "description:\n" + "".join("  " + ln for ln in bomb.splitlines(True))
    with pytest.raises(RecipeError, match=f"expands to more than {MAX_RECIPE_VALUES:,} values"):
        load_recipe(_write(tmp_path, body))
    anchors = yaml.safe_dump(books_recipe(corpus)).replace("name: books\n", "name: &n books\ndescription: *n\n", 1)
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
    big = yaml.safe_dump(books_recipe(corpus, description=(corpus / "books" / "11-0.txt").read_text("utf-8")[:5000]))
    with pytest.raises(RecipeError, match=r"r\.yaml is \d[\d,]* bytes; the limit is 1,000"):
        load_recipe(_write(tmp_path, big))


@pytest.mark.parametrize(
    "override,message",
    [
        ("stages.9.threshold=0.5", r"--set stages\.9\.threshold: stages has 1 items, no item 9"),
        ("seed.x=1", r"--set seed\.x: seed is not a mapping"),
        ("sources.0.paths.x=1", r"--set sources\.0\.paths\.x: sources\.0\.paths is not a mapping"),
        ("seed=[", r"--set seed: malformed YAML"),
        (".x=1", r"--set \.x: expected a dotted key"),
        ("stages=1", None),  # parsed, then refused by validation naming the key
    ],
)
def test_set_overrides_fail_naming_the_option(corpus: Path, tmp_path: Path, override: str, message: str | None) -> None:
    p = _write(tmp_path, yaml.safe_dump(books_recipe(corpus, stages=[{"dedup": {}}])))
    with pytest.raises(RecipeError, match=message or r"^stages: expected a list"):
        load_recipe(p, [override])


# ---------------------------------------------------------------- what the recipe says


@pytest.mark.parametrize(
    "stages,message",
    [
        (
            [{"langid": {}, "only": ["bokos"]}],
            r"stages\[0\]\.only: 'bokos' is not a source of this recipe "
            r"\(sources: books; kinds: books\)",
        ),
        ([{"mix": {"weights": {"books": 1, "wiki": 1}}}], r"stages\[0\]\.mix\.weights: 'wiki' is not a source"),
        ([{"quality": {"positives": ["books"], "negatives": ["wbe"]}}], r"stages\[0\]\.quality\.negatives: 'wbe'"),
        (
            [{"quality": {"mode": "paretoo"}}],
            r"stages\[0\]\.quality\.mode: 'paretoo' is not one of 'pareto', "
            r"'threshold'",
        ),
        ([{"dedup": {"hash": "md5"}}], r"stages\[0\]\.dedup\.hash: 'md5' is not one of 'fast', 'sha1'"),
        ([{"dedup": {"num_perm": 128, "bands": 20, "rows": 10}}], r"stages\[0\]\.dedup\.rows: 10 is out of range"),
        ([{"dedup": {"seed": 2**40}}], r"stages\[0\]\.dedup\.seed: \d+ is out of range"),
        ([{"holdout": {"share": 1.5}}], r"stages\[0\]\.holdout\.share: 1\.5 is out of range"),
    ],
)
def test_settings_are_checked_when_the_recipe_is_read(corpus: Path, stages: list, message: str) -> None:
    with pytest.raises(RecipeError, match=message):
        Pipeline.from_dict(books_recipe(corpus, stages))


def test_source_names_in_the_data_are_not_checked(corpus: Path) -> None:
    r = {
        "name": "docs",
        "sources": [
            {
                "name": "docs",
                "kind": "web",
                "format": "documents-jsonl",
                "paths": [str(corpus / "dedup" / "docs.jsonl")],
            }
        ],
        "stages": [{"mix": {"weights": {"wiki": 1, "web": 1}}}],
    }  # rows carry their own source names
    assert Pipeline.from_dict(r).recipe.stages[0].config["weights"] == {"wiki": 1, "web": 1}


@pytest.mark.parametrize("name", ["../../elsewhere", "a/b", "..", ""])
def test_a_recipe_name_is_a_plain_name(corpus: Path, name: str) -> None:
    with pytest.raises(RecipeError, match=r"^name: .* is not a plain name"):
        Pipeline.from_dict(books_recipe(corpus, name=name))


# ---------------------------------------------------------------- runs


# ---------------------------------------------------------------- outputs


def test_settings_that_would_fail_every_batch_or_never_end_are_refused(corpus: Path, tmp_path: Path) -> None:
    for stage, cfg, message in [
        ("clean_lines", {"site_repeat_partitions": 0}, r"clean_lines\.site_repeat_partitions: 0 is out of range"),
        ("clean_lines", {"spam_block_min_lines": -1}, r"clean_lines\.spam_block_min_lines: -1 is out of range"),
        ("clean_lines", {"layout": {"table_min_rows": -1}}, r"clean_lines\.layout\.table_min_rows: -1 is out"),
        ("heuristics", {"fineweb": {"table_min_rows": -1}}, r"heuristics\.fineweb\.table_min_rows: -1 is out"),
        ("dedup", {"num_perm": 10**9}, r"dedup\.num_perm: 1000000000 is out of range \(must be >= 1 and <= 8192\)"),
    ]:
        with pytest.raises(RecipeError, match=message):
            Pipeline.from_dict(books_recipe(corpus, [{stage: cfg}]))
    with pytest.raises(RecipeError, match=r"stages\[0\]\.clean_lines\.lexicon: no such file"):
        Pipeline.from_dict(books_recipe(corpus, [{"clean_lines": {"lexicon": str(tmp_path / "lex.yaml")}}])).run(
            out=tmp_path / "run", **QUIET
        )
    s = Pipeline.from_dict(books_recipe(corpus, [{"dedup_exact": {"tasks": 10**9}}])).run(out=tmp_path / "r2", **QUIET)
    assert s["stages"][1]["kept"] == 2  # partitions capped at the documents: two tasks, not 10**9
