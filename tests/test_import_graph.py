"""The project's import graph, read from the AST of every module: no circle, and stage code never imports the
layers above the stage contract.

Edges: every import of a project module, at module level, inside a function and under ``if TYPE_CHECKING:``
alike (a circle through a function-level or typing-only import is still two modules that need each other).
``from a import b`` is an edge to ``a.b`` when that is a module, else to ``a`` (its ``__init__``); a module's
own package is not an edge (Python imports it first whatever the module says).
"""

from __future__ import annotations

from pathlib import Path

from curate.codekeys import PROJECT_ROOT, imports, module_file, module_name

# The stage packages: readers, stages and what they call. They may import the contract (curate.stage,
# curate.config, curate.schema, ...) and each other, never what loads, plans or runs recipes.
STAGE_PACKAGES = (
    "curate.sources",
    "curate.extract",
    "curate.filters",
    "curate.dedup",
    "curate.mix",
    "curate.tokenizer",
    "curate.shards",
)
ABOVE = (
    "curate.recipe",
    "curate.standalone",
    "curate.cli",
    "curate.pipeline",
    "curate.compose",
    "curate.runner",
    "curate.registry",
)


def within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def project_graph(root: Path = PROJECT_ROOT) -> dict[str, set[str]]:
    files = [
        f
        for d in ("curate", "filters", "tokenizer", "trainer")
        if (root / d).is_dir()
        for f in (root / d).rglob("*.py")
        if "__pycache__" not in f.parts
    ]
    graph: dict[str, set[str]] = {}
    for f in files:
        deps = {
            module_name(d, root)
            for name, _ in imports(f, root, type_checking=True)
            if (d := module_file(name, root)) is not None and d != f
        }
        graph[module_name(f, root)] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on_stack.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_the_graph_covers_the_checkout():
    graph = project_graph()
    assert {"curate.runner", "curate.filters.rules", "curate.tokenizer.stage", "curate.trainer.train"} <= set(graph)
    assert "curate.filters.rules" in graph["curate.filters.heuristics"]


def test_no_import_circle():
    assert cycles(project_graph()) == []


def test_cycles_finds_a_circle_through_a_function_level_import(tmp_path):
    pkg = tmp_path / "curate"
    pkg.mkdir()
    (pkg / "a.py").write_text("from curate.b import x\n")
    (pkg / "b.py").write_text("def x():\n    from curate import c\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from curate.a import y\n")
    (pkg / "d.py").write_text("import curate.a\n")
    assert cycles(project_graph(tmp_path)) == [["curate.a", "curate.b", "curate.c"]]


def test_stage_packages_import_nothing_above_the_contract():
    bad = {
        m: sorted(d for d in deps if within(d, ABOVE))
        for m, deps in project_graph().items()
        if within(m, STAGE_PACKAGES)
    }
    assert {m: d for m, d in bad.items() if d} == {}
