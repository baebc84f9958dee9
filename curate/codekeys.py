"""The code part of a resume key: the files a reader or stage runs, found by reading imports.

A step's key (``curate.runner``) hashes its config, the previous step's key and ``code_version(cls)``: the
engine files every run uses (``ENGINE_FILES``), the module that defines ``cls`` and every project module
these import, transitively, at module level or inside a function (an import inside a function runs when the
function is called). Imports under ``if TYPE_CHECKING:`` never run and are not followed. So editing a filter
rule changes the key of the stages that import it (and of every later step, whose key holds the earlier
one), while the recipe loader, the CLI, the standalone commands and evaluation tools, which no stage
imports, stay out of every key: editing them reuses every part.

Files are found from module names without importing anything: ``curate.x.y`` is ``curate/x/y.py`` (or
``curate/x/y/__init__.py``) under ``root``, and ``curate.filters``/``tokenizer``/``trainer`` are the
top-level folders of a source checkout (``curate.__path__``) or the subpackages of an installed wheel.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
from functools import lru_cache
from pathlib import Path

from curate.steps import class_digest

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # holds curate/ (and, in a checkout, filters/ ...)
# What every task runs whatever its stage: the contract, the document schema, the settings schema, the
# task itself (segment: one part through the fused steps; partio: part files) and the reader contract.
ENGINE_FILES = (
    "curate/schema.py",
    "curate/config.py",
    "curate/stage.py",
    "curate/segment.py",
    "curate/partio.py",
    "curate/sources/base.py",
)
BESIDE = ("filters", "tokenizer", "trainer")  # curate.<name> in the checkout's top-level folder <name>/
_BODIES = ("body", "orelse", "finalbody")  # the fields of a statement that are lists of statements
_CLAUSES = ("handlers", "cases")  # ... and those that are lists of clauses (except, case) with a body


def module_file(name: str, root: Path = PROJECT_ROOT) -> Path | None:
    """The file of project module ``name`` under ``root`` (a package's ``__init__.py``), or None."""
    parts = name.split(".")
    if parts[0] != "curate" or len(parts) < 2:  # the top package's __init__ is wiring, not a step's code
        return None
    base = root / "curate"
    if parts[1] in BESIDE and not (base / parts[1]).is_dir():
        base, parts = root / parts[1], parts[1:]
    path = base.joinpath(*parts[1:])
    for f in (path.with_name(path.name + ".py"), path / "__init__.py"):
        if f.is_file():
            return f
    return None


def module_name(path: Path, root: Path = PROJECT_ROOT) -> str:
    """The import name of the project file ``path`` under ``root`` (inverse of ``module_file``)."""
    rel = path.relative_to(root).with_suffix("").parts
    rel = rel[:-1] if rel[-1] == "__init__" else rel
    return ".".join(rel if rel[0] == "curate" else ("curate", *rel))


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(
    path: Path, root: Path = PROJECT_ROOT, module_level: bool = False, type_checking: bool = False
) -> list[tuple[str, bool]]:
    """(module name, at module level) for every project import in ``path`` (``from a.b import c`` names a.b and
    a.b.c; relative imports resolved), skipping ``if TYPE_CHECKING:`` blocks unless ``type_checking``; with
    ``module_level`` only those that run when the module is imported."""
    try:
        here = module_name(path, root).split(".")
    except ValueError:  # a user's file outside the project: its relative imports are not the project's
        here = [path.stem]
    package = here if path.name == "__init__.py" else here[:-1]
    found: list[tuple[str, bool]] = []
    for base, names, top in _import_statements(path.read_bytes(), tuple(package), module_level, type_checking):
        if names is None:
            found.append((base, top))
        else:  # a name that is a module is imported itself, else its package
            found.extend(dict.fromkeys((n if module_file(n, root) else base, top) for n in names))
    return found


@lru_cache(maxsize=1024)
def _import_statements(
    source: bytes, package: tuple[str, ...], module_level: bool, type_checking: bool
) -> tuple[tuple[str, tuple[str, ...] | None, bool], ...]:
    """The project imports of one file's ``source`` as (module, None, at module level) for ``import a.b`` and
    (module, its imported dotted names, at module level) for ``from a import b``: every step of a run keys
    the same engine files, so each is parsed once per process (file names are resolved by the caller)."""
    found: list[tuple[str, tuple[str, ...] | None, bool]] = []

    def visit(statements: list[ast.stmt], top: bool) -> None:
        # only statement lists: an import is a statement, so no expression (most of a file's nodes) holds one
        for child in statements:
            if isinstance(child, ast.If) and _type_checking_only(child) and not type_checking:
                visit(child.orelse, top)
            elif isinstance(child, ast.Import):
                found.extend((a.name, None, top) for a in child.names if a.name.split(".")[0] == "curate")
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package[: len(package) - (child.level - 1)] if child.level > 1 else package
                    base = ".".join(up + ((base,) if base else ()))
                if base.split(".")[0] == "curate":
                    found.append((base, tuple(f"{base}.{a.name}" for a in child.names), top))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if not module_level:
                    visit(child.body, False)
            else:  # class bodies run at import; if/for/while/with/try/match bodies where they stand
                for name in child._fields:  # in the order of the source, as ast.iter_child_nodes
                    if name in _BODIES:
                        visit(getattr(child, name), top)
                    elif name in _CLAUSES:
                        for clause in getattr(child, name):
                            visit(clause.body, top)

    visit(ast.parse(source).body, True)
    return tuple(found)


def closure(files: list[Path], root: Path = PROJECT_ROOT) -> list[Path]:
    """``files`` and the project modules they import (at module level or in a function), transitively; sorted."""
    seen: set[Path] = set()
    todo = list(files)
    while todo:
        f = todo.pop()
        if f in seen or not f.is_file():
            continue
        seen.add(f)
        for name, _ in imports(f, root):
            dep = module_file(name, root)
            if dep is not None and dep not in seen:
                todo.append(dep)
    return sorted(seen)


def code_files(cls: type, root: Path = PROJECT_ROOT) -> list[Path]:
    """The project files whose code ``cls`` (a reader or stage of curate) runs, engine files included."""
    own = module_file(cls.__module__, root)
    return closure([root / f for f in ENGINE_FILES] + ([own] if own else []), root)


def code_version(cls: type, root: Path = PROJECT_ROOT) -> str:
    """Hash of ``code_files(cls)`` (path and bytes of each). A user stage (a class outside ``curate``) is hashed
    by its class's code (``curate.steps.class_digest``), the engine files and the curate modules it imports."""
    h = hashlib.sha256()
    files = code_files(cls, root)
    if cls.__module__.split(".")[0] != "curate":
        h.update(class_digest(cls).encode())
        try:
            src = Path(inspect.getsourcefile(cls) or "")
        except TypeError:  # a class with no source file (a user's, defined in a notebook)
            src = Path("")
        user = [
            d for name, _ in (imports(src, root) if src.is_file() else []) if (d := module_file(name, root)) is not None
        ]
        files = sorted(set(files) | set(closure(user, root))) + ([src] if src.is_file() else [])
    for f in files:
        h.update((f.relative_to(root).as_posix() if f.is_relative_to(root) else f.name).encode())
        h.update(b"\x00")
        h.update(f.read_bytes())
    return h.hexdigest()[:12]
