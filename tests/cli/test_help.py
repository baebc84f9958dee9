"""The command line explains itself: every option of every command has a help text, ``--help`` shows no
raw markup, and ``--output``/``--out`` are one option in every command that writes something."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from curate.cli import DESCRIPTION, build_parser
from curate.trainer.__main__ import build_parser as trainer_parser
from tests import REPO


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices) | {"python -m trainer": trainer_parser()}


def test_every_option_of_every_command_has_help():
    missing = [
        f"{name} {a.option_strings[0] if a.option_strings else a.dest}"
        for name, p in _commands().items()
        for a in p._actions
        if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()
    ]
    assert not missing, missing
    names = {o for p in _commands().values() for a in p._actions for o in a.option_strings}
    assert {"--threshold", "--weight", "--seed", "--vocab-size", "--shard", "--token"} <= names


def test_help_has_no_raw_markup(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert "--output and --out are the same option" in out and DESCRIPTION.splitlines()[0] in out
    for mark in ("``", ":func:", ":class:", "**"):
        assert mark not in out
    for name, p in _commands().items():
        assert "``" not in p.format_help(), name


@pytest.mark.parametrize("spelling", ["--output", "--out"])
def test_output_and_out_are_one_option_everywhere(spelling):
    writers = {
        name: p
        for name, p in _commands().items()
        if any("--output" in a.option_strings or "--out" in a.option_strings for a in p._actions)
    }
    assert {
        "run",
        "extract",
        "filter",
        "dedup",
        "mix",
        "train-tokenizer",
        "tokenize",
        "ablate",
        "python -m trainer",
    } <= set(writers)
    for name, p in writers.items():
        action = next(a for a in p._actions if "--out" in a.option_strings or "--output" in a.option_strings)
        assert {"--out", "--output"} <= set(action.option_strings), name
        required = {"--input": ["x.jsonl"], "--model": ["m.model"], "--manifest": ["m.json"]}
        argv = [
            a
            for opt, v in required.items()
            for a in [opt, *v]
            if any(opt in x.option_strings and x.required for x in p._actions)
        ]
        argv += ["recipe"] if name in ("run", "ablate") else []
        ns = p.parse_args(argv + [spelling, "somewhere"])
        assert getattr(ns, action.dest) == "somewhere", name


def test_quickstart_says_that_langid_keeps_every_language(corpus, tmp_path, monkeypatch, capsys):
    from curate.cli import main
    from curate.recipe import find_recipe

    line = next(ln for ln in find_recipe("quickstart").read_text().splitlines() if "langid:" in ln)
    assert "keeps every language" in line
    monkeypatch.setenv("CURATE_INPUT", str(corpus / "cjk" / "docs.jsonl"))
    assert main(["run", "quickstart", "--dry-run", "--out", str(tmp_path / "r")]) == 0
    plan = capsys.readouterr().out
    assert "01_langid: no `languages` list: every language is kept" in plan
    monkeypatch.setenv("CURATE_INPUT", str(corpus / "cjk" / "docs.jsonl"))
    assert main(["run", "quickstart", "--dry-run", "--set", "stages.langid.languages=[en]"]) == 0
    assert "every language is kept" not in capsys.readouterr().out


def test_parsing_arguments_imports_no_builder_and_no_data_library():
    # a fresh interpreter: every command parses its arguments before it starts, `curate sample`'s included
    code = (
        "import sys\nfrom curate.cli import build_parser\nbuild_parser().parse_args(['sample', '--max-pages', '2'])\n"
        "print([m for m in ('curate.sample', 'warcio', 'pyarrow', 'ray') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
