"""Settings and names: a setting's declared range is the range the run accepts, checked when the recipe is
read and naming the key; degenerate mixture weights are errors at load; an environment value is inserted literally;
YAML 1.2 numbers (``1e-3``) are numbers; misspelt keys, stages, formats and recipe names get a "did you mean";
every name that reaches a file path is a plain name, so ``curate ablate`` cannot write outside ``--out``.
Inputs: real books of the corpus and the repository's recipes.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest
import yaml

from curate import cli
from curate.ablate.run import AblateConfig, run_ablation
from curate.pipeline import Pipeline
from curate.recipe import RecipeError, load_recipe, parse_recipe
from curate.registry import READERS, STAGES, reader_class, stage_class
from tests import REPO
from tests.support.recipes import books_recipe


def _numeric(tp: typing.Any) -> bool:
    return tp in (int, float) or any(_numeric(a) for a in typing.get_args(tp))


def _unbounded(cls: type, where: str) -> list[str]:
    """Numeric settings of a Config (nested Configs included) that declare no range."""
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out += _unbounded(tp, f"{where}.{f.name}")
        elif _numeric(tp) and not f.metadata.get("bounds"):
            out.append(f"{where}.{f.name}")
    return out


def test_every_numeric_setting_declares_its_range() -> None:
    missing = [k for n in STAGES for k in _unbounded(stage_class(n).Config, n)]
    missing += [k for n in READERS for k in _unbounded(reader_class(n).Config, n)]
    assert not missing, missing


@pytest.mark.parametrize(
    "stage,key",
    [
        ({"dedup": {"threshold": 0.01}}, r"stages\[0\]\.dedup\.threshold: 0\.01 is too low for num_perm 128"),
        ({"dedup": {"bands": 100, "rows": 2}}, r"stages\[0\]\.dedup\.(bands|rows)"),
        ({"quality": {"target_keep_rate": 1.0}}, r"stages\[0\]\.quality\.target_keep_rate: 1\.0 cannot be calibrated"),
        ({"quality": {"target_keep_rate": 0.5, "target_tokens": 1000}}, r"stages\[0\]\.quality\.target_keep_rate: set"),
        ({"quality": {"epoch": 0}}, r"stages\[0\]\.quality\.epoch: 0 is out of range"),
        ({"langid": {"min_scores": {"en": -0.5}}}, r"stages\[0\]\.langid\.min_scores\.en: -0\.5 is out of range"),
        ({"clean_lines": {"boilerplate_max_words": -1}}, r"stages\[0\]\.clean_lines\.boilerplate_max_words"),
        ({"mix": {"weights": {"books": 1e308, "other": 1e308}}}, r"stages\[0\]\.mix\.weights: their sum overflows"),
        ({"mix": {"weights": {"books": 0, "other": 0.0}}}, r"stages\[0\]\.mix\.weights: every weight is 0"),
        ({"mix": {"weights": {"books": float("inf")}}}, r"stages\[0\]\.mix\.weights\.books: expected a finite number"),
        ({"mix": {"weights": {"books": float("nan")}}}, r"stages\[0\]\.mix\.weights\.books: expected a finite number"),
    ],
)
def test_a_setting_the_run_would_refuse_is_refused_at_load_naming_the_key(corpus: Path, stage: dict, key: str) -> None:
    raw = books_recipe(corpus, [stage])
    raw["sources"].append(dict(raw["sources"][0], name="other"))
    with pytest.raises(RecipeError, match=key):
        parse_recipe(raw)


def test_settings_inside_their_range_are_accepted_by_the_run(corpus: Path, tmp_path: Path) -> None:
    """The edges the load accepts run to the end: the lowest dedup threshold 128 permutations reach, a keep rate
    of 1.0 where it can be met (mode threshold), one weight of 1e308."""
    ok = books_recipe(corpus, [{"dedup": {"threshold": 0.05}}, {"mix": {"weights": {"books": 1e308}}}])
    s = Pipeline.from_dict(ok).run(out=tmp_path / "run", workers=0, log=lambda m: None)
    assert s["reconciles"] and s["stages"][-1]["kept"] >= 1
    parse_recipe(books_recipe(corpus, [{"quality": {"target_keep_rate": 1.0, "mode": "threshold"}}]))


def test_yaml_numbers_with_an_exponent_are_numbers(corpus: Path, tmp_path: Path) -> None:
    raw = (
        yaml.safe_dump(books_recipe(corpus))
        + "stages:\n  - dedup: {threshold: 8e-1}\n  - mix: {weights: {books: 1e0}, "
        "target_tokens: 1e6}\n"
    )
    body = raw.replace("stages: []\n", "")
    (tmp_path / "r.yaml").write_text(body)
    r = load_recipe(tmp_path / "r.yaml", overrides=["stages.dedup.threshold=5e-1"])
    assert r.stages[0].config["threshold"] == 0.5 and r.stages[1].config["target_tokens"] == 10**6


def test_yaml_1_1_booleans_are_strings(corpus: Path, tmp_path: Path) -> None:
    """Only true/false are booleans (YAML 1.2): Norwegian's code `no` stays a language, `on` a source name."""
    body = yaml.safe_dump(books_recipe(corpus, source="on")).replace("stages: []\n", "")
    (tmp_path / "r.yaml").write_text(
        body.replace("name: 'on'", "name: on") + "stages:\n  - langid: {languages: [no, en]}\n"
    )
    r = load_recipe(tmp_path / "r.yaml")
    assert r.sources[0].name == "on" and r.stages[0].config["languages"] == ["no", "en"]


def test_an_environment_value_is_inserted_literally(corpus: Path, tmp_path: Path, monkeypatch) -> None:
    literal = tmp_path / "in${CURATE_I27_OTHER}"  # a directory really named so
    literal.mkdir()
    (literal / "pg84.txt").write_bytes((corpus / "books" / "pg84.txt").read_bytes())
    decoy = tmp_path / "inDECOY"
    decoy.mkdir()
    (decoy / "11-0.txt").write_bytes((corpus / "books" / "11-0.txt").read_bytes())
    monkeypatch.setenv("CURATE_I27_DIR", str(literal))
    monkeypatch.setenv("CURATE_I27_OTHER", "DECOY")
    raw = books_recipe(corpus)
    raw["sources"][0]["paths"] = ["${CURATE_I27_DIR}/*.txt"]
    s = Pipeline.from_dict(raw).run(out=tmp_path / "run", workers=0, log=lambda m: None)
    assert s["stages"][0]["kept"] == 1
    assert (tmp_path / "run" / "_state" / "00_read" / "inputs.json").read_text().count("pg84.txt") >= 1


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda r: r.update(seeds=1), r"recipe: unknown key 'seeds' \(did you mean 'seed'\?\)"),
        (
            lambda r: r["sources"][0].update(fromat="text"),
            r"sources\[0\]: unknown key 'fromat' \(did you mean 'format'\?\)",
        ),
        (lambda r: r["sources"][0].update(format="txt"), r"unknown reader format 'txt' \(did you mean 'text'\?\)"),
        (
            lambda r: r.update(stages=[{"dedupe": {}}]),
            r"stages\[0\]: unknown stage 'dedupe' \(did you mean 'dedup'\?\)",
        ),
        (
            lambda r: r.update(stages=[{"dedup": {"treshold": 0.5}}]),
            r"stages\[0\]\.dedup: unknown key 'treshold' \(did you mean 'threshold'\?\)",
        ),
    ],
)
def test_a_misspelt_name_gets_a_did_you_mean(corpus: Path, change, message: str) -> None:
    raw = books_recipe(corpus)
    change(raw)
    with pytest.raises(RecipeError, match=message):
        parse_recipe(raw)


def test_an_unknown_recipe_name_lists_the_shipped_recipes(capsys) -> None:
    assert cli.main(["run", "gpt3mx", "--dry-run"]) != 0
    err = capsys.readouterr().err
    shipped = sorted(p.stem for p in (REPO / "recipes").glob("*.yaml"))
    assert "did you mean 'gpt3mix'?" in err and f"shipped recipes: {', '.join(shipped)}" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "name", ["../escape", "a/b", "a\\b", ".hidden", "..", "", "x\x1b[31m", "nul\x00", "tab\there", "a" * 300]
)
def test_a_name_that_reaches_a_file_path_is_a_plain_name(corpus: Path, name: str) -> None:
    with pytest.raises(RecipeError, match=r"sources\[0\]\.name: .* is not a plain name"):
        parse_recipe(books_recipe(corpus, source=name))
    raw = books_recipe(corpus)
    raw["name"] = name
    with pytest.raises(RecipeError, match=r"^name: .* is not a plain name"):
        parse_recipe(raw)


def test_ablate_with_a_hostile_source_name_writes_nothing_outside_out(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CURATE_INPUT", str(corpus / "dedup" / "docs.jsonl"))  # quickstart reads it
    work = tmp_path / "work"
    work.mkdir()
    raw = books_recipe(corpus, [{"mix": {"weights": {"../../escaped": 1.0}}}, "tokenize"], source="../../escaped")
    (work / "r.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(RecipeError, match="not a plain name"):
        run_ablation(AblateConfig(recipe=str(work / "r.yaml"), out=str(work / "out")), log=lambda m: None)
    with pytest.raises(RecipeError, match=r"--variants \.\./\.evil\.yaml: '\.evil' is not a plain name"):
        run_ablation(
            AblateConfig(
                recipe=str(REPO / "recipes" / "quickstart.yaml"),
                out=str(work / "out2"),
                variants=["raw", "../.evil.yaml"],
            ),
            log=lambda m: None,
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert sorted(p.name for p in work.iterdir()) == ["r.yaml"]
