"""Resume keys follow the code a step runs: the e2e recipe's step keys computed over a copy of the package.

Editing the recipe loader, the standalone commands, the CLI or an evaluation tool keeps every key (every
part is reused); editing a filter rule changes the key of the stage that imports it and of every step after
it, and of no step before it. The real tree is never edited: keys are computed with ``code_root`` pointing
at a copy of curate/, filters/, tokenizer/ and trainer/ in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import sysconfig
from pathlib import Path

import pytest

from curate.codekeys import code_files, imports, module_file
from curate.executor import LocalExecutor
from curate.recipe import load_recipe
from curate.registry import stage_class
from curate.runner import Runner
from tests import REPO

E2E = REPO / "tests" / "recipes" / "e2e.yaml"
PACKAGES = ("curate", "filters", "tokenizer", "trainer")


@pytest.fixture(scope="module")
def recipe(corpus):
    env = {"CURATE_TEST_DATA": str(corpus), "CURATE_CODE_DIR": str(Path(sysconfig.get_paths()["stdlib"]) / "json")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return load_recipe(E2E)
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


@pytest.fixture()
def code_copy(tmp_path: Path) -> Path:
    for pkg in PACKAGES:
        shutil.copytree(
            REPO / pkg,
            tmp_path / pkg,
            ignore=lambda d, names: [n for n in names if n == "__pycache__" or n.endswith((".pyc", ".bin"))],
        )
    return tmp_path


def keys(recipe, root: Path, tmp_path: Path) -> list[tuple[str, str]]:
    steps = Runner(recipe, tmp_path / "out", LocalExecutor(), code_root=root).plan()
    return [(s.dir_name, s.key) for s in steps]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_the_copy_gives_the_keys_of_the_checkout(recipe, code_copy, tmp_path):
    assert keys(recipe, code_copy, tmp_path) == keys(recipe, REPO, tmp_path)


def test_editing_the_loader_the_commands_or_evaluation_tools_reuses_every_part(recipe, code_copy, tmp_path):
    before = keys(recipe, code_copy, tmp_path)
    edit(code_copy / "curate" / "recipe.py", "at least one source is required", "a recipe needs a source")
    for name in ("standalone.py", "cli.py", "commands.py", "report.py", "trace.py"):
        f = code_copy / "curate" / name
        if f.is_file():
            f.write_text(f.read_text() + "\n# edited\n")
    (code_copy / "curate" / "eval_clean.py").write_text((code_copy / "curate" / "eval_clean.py").read_text() + "\n#\n")
    assert keys(recipe, code_copy, tmp_path) == before


def test_editing_a_filter_rule_recomputes_its_stage_and_every_later_step(recipe, code_copy, tmp_path):
    before = keys(recipe, code_copy, tmp_path)
    rules = code_copy / "filters" / "rules.py"
    users = [s.stage for s in recipe.stages if rules in code_files(stage_class(s.stage), code_copy)]
    assert "heuristics" in users
    edit(rules, "def ", "def _unused() -> None:\n    return None\n\n\ndef ")
    after = keys(recipe, code_copy, tmp_path)
    first = 1 + [s.stage for s in recipe.stages].index(users[0])  # step 0 reads
    assert after[:first] == before[:first]  # the read step and the stages before it: reused
    assert all(a[1] != b[1] for a, b in zip(after[first:], before[first:]))  # recomputed from there on
    assert before[first][0].endswith(users[0])


def test_no_stage_or_reader_key_holds_the_loader_or_the_commands():
    from curate.registry import READERS, STAGES, reader_class

    outside = {
        module_file(m)
        for m in (
            "curate.recipe",
            "curate.standalone",
            "curate.cli",
            "curate.commands",
            "curate.eval_clean",
            "curate.report",
            "curate.ablate.run",
        )
    }
    for cls in [stage_class(n) for n in STAGES] + [reader_class(n) for n in READERS]:
        held = outside & set(code_files(cls))
        assert not held, f"{cls.__name__}'s key holds {sorted(map(str, held))}"


def test_function_level_imports_count_and_type_checking_ones_do_not(tmp_path):
    pkg = tmp_path / "curate"
    pkg.mkdir()
    (pkg / "c.py").write_text("")
    (pkg / "mod.py").write_text(
        "from typing import TYPE_CHECKING\nfrom curate.a import x\n"
        "if TYPE_CHECKING:\n    from curate.b import y\n"
        "def f():\n    from . import c\n    return c\n"
    )
    found = imports(pkg / "mod.py", tmp_path)
    assert ("curate.a", True) in found and ("curate.c", False) in found
    assert not any(name.startswith("curate.b") for name, _ in found)
    assert imports(pkg / "mod.py", tmp_path, module_level=True) == [("curate.a", True)]
    # a parse is reused for the same bytes, but names resolve against the files of each call, and an edit re-parses
    (pkg / "a").mkdir()
    (pkg / "a" / "x.py").write_text("")
    assert ("curate.a.x", True) in imports(pkg / "mod.py", tmp_path)
    (pkg / "mod.py").write_text("import curate.b\n")
    assert imports(pkg / "mod.py", tmp_path) == [("curate.b", True)]


def test_imports_are_found_in_every_kind_of_block(tmp_path):
    pkg = tmp_path / "curate"
    pkg.mkdir()
    (pkg / "mod.py").write_text(
        "import typing\n"
        "class K:\n    import curate.k\n    def m(self):\n        import curate.km\n"
        "try:\n    import curate.t\nexcept ImportError:\n    import curate.h\nelse:\n    import curate.e\n"
        "finally:\n    import curate.f\n"
        "with open('x') as fh:\n    import curate.w\n"
        "for i in ():\n    import curate.fo\nelse:\n    import curate.fe\n"
        "while False:\n    import curate.wh\n"
        "match 1:\n    case 1:\n        import curate.mc\n"
        "if typing.TYPE_CHECKING:\n    import curate.no\nelse:\n    import curate.tc\n"
        "async def g():\n    async with x:\n        import curate.ag\n"
        "lam = lambda: __import__('curate.dynamic')\n"
    )
    found = dict(imports(pkg / "mod.py", tmp_path))
    top = ["k", "t", "h", "e", "f", "w", "fo", "fe", "wh", "mc", "tc"]
    assert found == {**{f"curate.{n}": True for n in top}, "curate.km": False, "curate.ag": False}
    assert dict(imports(pkg / "mod.py", tmp_path, module_level=True)) == {f"curate.{n}": True for n in top}
    assert "curate.no" in dict(imports(pkg / "mod.py", tmp_path, type_checking=True))
