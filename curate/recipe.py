"""Recipes are data: YAML loaded, overridden (``--set``) and resolved into a ``Recipe``.

Each source's options and each stage's settings are validated against the reader's or stage's declared
``Config`` by ``curate.config`` (types, ranges, rules between settings; every error names the key, with a
"did you mean"), so whatever the recipe loader accepts the run accepts. Source paths: ``${VAR}``
and ``${VAR:-default}`` are expanded when the recipe is read (an unset variable without a default is an
error naming it and the key), then a relative local path is resolved by one rule: a path written in the
recipe resolves against the recipe file's folder (``base_dir``), so a recipe means the same files whatever
directory it is run from; a path that comes from the command line or the environment (a ``--set`` value, a
path beginning with a set ``${VAR}`` such as ``CURATE_INPUT``) resolves against the working directory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from curate.config import (
    PATH,
    SOURCES,
    SOURCES_OR_KINDS,
    RecipeError,
    bounds,
    build_config,
    check_plain_name,
    check_type,
    did_you_mean,
)

__all__ = [
    "PATH",
    "SOURCES",
    "SOURCES_OR_KINDS",
    "Recipe",
    "RecipeError",
    "SourceSpec",
    "StageSpec",
    "bounds",
    "build_config",
    "check_plain_name",
    "check_type",
    "did_you_mean",
    "find_recipe",
    "load_recipe",
    "parse_recipe",
    "parse_yaml",
    "read_yaml",
    "resolve_path",
]


@dataclass
class SourceSpec:
    """One input source: a name, a document kind, a reader format and paths (globs or fsspec URLs)."""

    name: str
    kind: str
    format: str
    paths: list[str]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageSpec:
    """One pipeline step: a registered stage name, its settings, and which kinds/sources it touches."""

    stage: str  # a registered name, a user stage's import path (module:Class), or a composed step's name
    config: dict[str, Any]
    only: list[str] | None = None  # source names or kinds; other rows pass through untouched
    instance: Any = None  # a stage object given to a Python-composed Pipeline (curate.compose)


@dataclass
class Recipe:
    name: str
    seed: int
    workers: int
    sources: list[SourceSpec]
    stages: list[StageSpec]
    base_dir: Path = Path(".")
    raw: dict = field(default_factory=dict)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True, default=str).encode()).hexdigest()[:16]


TOP_KEYS = {"name", "seed", "workers", "sources", "stages", "description", "tokenizer", "keep_intermediate"}
SOURCE_KEYS = {"name", "kind", "format", "paths", "options"}
STAGE_META_KEYS = {"only"}


def _command_line_paths(dotted: str, value: Any) -> Any:
    """A ``--set`` value with the local paths it sets (``sources.<s>.paths``, ``tokenizer``, a stage's path
    field) resolved against the working directory: a path typed on the command line means where it is typed."""
    from curate.registry import STAGES, stage_class

    parts = dotted.split(".")
    stage_paths = (
        {f.name for f in dataclasses.fields(stage_class(parts[-2]).Config) if f.metadata.get("path")}
        if parts[0] == "stages" and len(parts) >= 3 and parts[-2] in STAGES
        else set()
    )
    is_path = parts == ["tokenizer"] or (parts[0] == "sources" and "paths" in parts[2:]) or parts[-1] in stage_paths
    if not is_path:
        return value
    if isinstance(value, str):
        return resolve_path(value, Path.cwd(), f"--set {dotted}")
    if isinstance(value, list):
        return [
            resolve_path(v, Path.cwd(), f"--set {dotted}[{i}]") if isinstance(v, str) else v
            for i, v in enumerate(value)
        ]
    return value


@dataclass
class _Parsed:
    """A ``--set`` value already parsed from YAML."""

    value: Any


def _set_path(d: dict, dotted: str, value: Any) -> None:
    """Apply ``--set a.b.c=value`` (``value`` a YAML string, or already parsed); list items are addressed by
    index or by a stage/source name."""
    parts = dotted.split(".")
    if not all(parts):
        raise RecipeError(f"--set {dotted}: expected a dotted key such as stages.dedup.threshold")
    cur: Any = d
    for i, p in enumerate(parts[:-1]):
        if isinstance(cur, list):
            match = [x for x in cur if isinstance(x, dict) and (x.get("name") == p or p in x)]
            if p.isdigit():
                if int(p) >= len(cur):
                    raise RecipeError(
                        f"--set {dotted}: {'.'.join(parts[:i]) or 'the list'} has {len(cur)} items, no item {p}"
                    )
                cur = cur[int(p)]
            elif match:
                item = match[0]
                if p in item and item[p] is None:  # `- dedup:` with no settings
                    item[p] = {}
                cur = item[p] if p in item and isinstance(item[p], dict) else item
            else:
                raise RecipeError(f"--set {dotted}: no list item named {p!r}")
        elif isinstance(cur, dict):
            if p not in cur or cur[p] is None:
                cur[p] = {}
            cur = cur[p]
        else:
            raise RecipeError(f"--set {dotted}: {'.'.join(parts[:i])} is {cur!r}, not a mapping or a list")
    if not isinstance(cur, dict):
        raise RecipeError(
            f"--set {dotted}: {'.'.join(parts[:-1]) or 'the recipe'} is not a mapping "
            "(a list item is set by one of its keys, e.g. stages.dedup.threshold)"
        )
    cur[parts[-1]] = (
        value.value
        if isinstance(value, _Parsed)
        else parse_yaml(value, f"--set {dotted}")
        if isinstance(value, str)
        else value
    )


MAX_RECIPE_BYTES = 4 << 20  # a recipe is settings, not data: a longer list of inputs belongs in a glob
MAX_RECIPE_VALUES = 200_000  # values after expanding YAML aliases (an alias bomb stays small on disk)


class _RecipeLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """yaml's safe loader, refusing a key repeated in one mapping (YAML would silently keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if repeated:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


_RecipeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _RecipeLoader.construct_mapping)
# YAML 1.2 booleans: only true/false (YAML 1.1 also reads yes/no/on/off as booleans, so the language code
# `no` or a source named `on` would become false/true)
_RecipeLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for ch, resolvers in _RecipeLoader.yaml_implicit_resolvers.items()
}
_RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
# YAML 1.2 floats that YAML 1.1 (PyYAML) reads as strings: an exponent without a dot or without a sign (1e-3,
# 5E6, 1.5e3, .5e2)
_RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"),
)


def _check_size(value: Any, where: str) -> None:
    """Refuse a document that expands (through aliases) past MAX_RECIPE_VALUES values, or refers to itself.
    Counted over the shared structure with memoisation, so an alias bomb is measured without expanding it."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(v: Any) -> int:
        if not isinstance(v, (dict, list)):
            return 1
        if id(v) in sizes:
            return sizes[id(v)]
        if id(v) in active:
            raise RecipeError(f"{where}: a YAML alias refers to a value that contains it (a recursive recipe)")
        active.add(id(v))
        items = [x for kv in v.items() for x in kv] if isinstance(v, dict) else v
        n = 1 + sum(size(x) for x in items)
        active.discard(id(v))
        if n > MAX_RECIPE_VALUES:
            raise RecipeError(
                f"{where}: the recipe expands to more than {MAX_RECIPE_VALUES:,} values "
                "(YAML aliases repeating aliases?); a recipe holds settings, not data"
            )
        sizes[id(v)] = n
        return n

    size(value)


def parse_yaml(text: str, where: str) -> Any:
    """``text`` parsed as YAML by ``_RecipeLoader``, bounded in size and depth; any problem is a RecipeError
    naming ``where`` (a file, or a ``--set`` key)."""
    try:
        value = yaml.load(text, Loader=_RecipeLoader)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as e:
        many = "\n" in text.strip()  # a position helps in a file, not in a one-line --set value
        at = f", line {e.problem_mark.line + 1}, column {e.problem_mark.column + 1}" if e.problem_mark and many else ""
        raise RecipeError(
            f"{where}{at}: malformed YAML: {e.problem}" + (f" ({e.context})" if e.context else "")
        ) from None
    except yaml.YAMLError as e:
        raise RecipeError(f"{where}: malformed YAML: {' '.join(str(e).split())}") from None
    except RecursionError:
        raise RecipeError(f"{where}: YAML nested too deeply") from None
    try:
        _check_size(value, where)
    except RecursionError:
        raise RecipeError(f"{where}: YAML nested too deeply") from None
    return value


def read_yaml(path: Path, what: str) -> Any:
    """The parsed YAML of ``path``; a missing, oversized, binary or malformed file is a RecipeError naming it."""
    if path.is_dir():
        raise RecipeError(f"{what} {path} is a directory, not a YAML file")
    if not path.is_file():
        raise RecipeError(f"{what} not found: {path}")
    size = path.stat().st_size
    if size > MAX_RECIPE_BYTES:
        raise RecipeError(
            f"{what} {path} is {size:,} bytes; the limit is {MAX_RECIPE_BYTES:,} (a recipe holds "
            "settings: list many inputs with a glob)"
        )
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RecipeError(
            f"{what} {path} is not UTF-8 text (byte {e.start}: {data[e.start : e.start + 1]!r})"
        ) from None
    value = parse_yaml(text, str(path))
    if value is None:
        raise RecipeError(f"{what} {path} is empty")
    return value


def shipped_recipes_dir() -> Path:
    """The recipes shipped with curate: package data in a wheel (``curate/recipes``), ``recipes/`` in a checkout."""
    here = Path(__file__).resolve().parent
    return here / "recipes" if (here / "recipes").is_dir() else here.parent / "recipes"


def find_recipe(name: str | Path) -> Path:
    """A recipe file, or the name of a shipped recipe (``gpt3mix``, ``quickstart.yaml``). A name that is
    neither is a RecipeError listing the shipped recipes."""
    path = Path(name)
    if path.exists() or len(path.parts) != 1:
        return path
    shipped = shipped_recipes_dir() / (path.name if path.suffix == ".yaml" else f"{path.name}.yaml")
    if shipped.is_file():
        return shipped
    names = sorted(p.stem for p in shipped_recipes_dir().glob("*.yaml"))
    raise RecipeError(
        f"recipe {str(name)!r}: no such file, and no shipped recipe of that name"
        f"{did_you_mean(path.stem, names)}; shipped recipes: {', '.join(names)}"
    )


def load_recipe(path: str | Path, overrides: list[str] | None = None, source_paths: bool = True) -> Recipe:
    """Read, override (``key=value``) and validate a YAML recipe: a file, or the name of a shipped recipe.
    ``source_paths=False`` leaves the sources' paths as written (for a command that takes only the stages,
    such as ``curate filter --recipe``: an input variable the recipe names need not be set)."""
    path = find_recipe(path)
    raw = read_yaml(path, "recipe file")
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: expected a mapping of recipe keys at the top level, got {type(raw).__name__}")
    for ov in overrides or []:
        if "=" not in ov:
            raise RecipeError(f"--set {ov!r}: expected key=value")
        k, v = ov.split("=", 1)
        _set_path(raw, k.strip(), _Parsed(_command_line_paths(k.strip(), parse_yaml(v, f"--set {k.strip()}"))))
    return parse_recipe(raw, base_dir=path.absolute().parent, default_name=path.stem, source_paths=source_paths)


def resolve_path(path: str, base_dir: Path, where: str) -> str:
    """Expand ``${VAR}`` (error naming ``where`` when unset without default) and resolve a relative local
    path against ``base_dir``, or against the working directory when it begins with an environment variable's
    value; URLs are left as they are."""
    from curate.io import UnsetVariable, expand_vars, is_url, starts_with_env_value

    from_env = starts_with_env_value(path)
    try:
        path = expand_vars(path, where)
    except UnsetVariable as e:
        raise RecipeError(str(e)) from None
    if is_url(path) or os.path.isabs(path) or path.startswith("file://"):  # file:// is local, and absolute
        return path
    if from_env:
        return os.path.abspath(path)
    return os.path.normpath(os.path.join(base_dir, path)) if str(base_dir) not in ("", ".") else path


def _resolve_config_paths(cls: type, cfg: Any, base_dir: Path, where: str) -> Any:
    """``cfg`` with the values of fields declared ``metadata=PATH`` resolved like source paths."""
    if not isinstance(cfg, dict) or not dataclasses.is_dataclass(cls):
        return cfg
    paths = {f.name for f in dataclasses.fields(cls) if f.metadata.get("path")}

    def resolve(v: Any, key: str) -> Any:  # a path, or a list of paths
        if isinstance(v, list):
            return [resolve(x, f"{key}[{i}]") for i, x in enumerate(v)]
        return resolve_path(v, base_dir, key) if isinstance(v, str) else v

    return {k: resolve(v, f"{where}.{k}") if k in paths else v for k, v in cfg.items()}


def _check_source_names(sources: list[SourceSpec], stages: list[StageSpec]) -> None:
    """Every source name a stage's ``only:`` or a field declared SOURCES / SOURCES_OR_KINDS sets in the recipe
    must be a source (or kind) of the recipe: a misspelt name would otherwise select nothing, silently.
    Skipped when a reader keeps each row's own source (``documents-jsonl``): the names are in the data."""
    from curate.registry import reader_class, stage_class

    if any(getattr(reader_class(s.format), "keeps_row_source", False) for s in sources):
        return
    names, kinds = sorted({s.name for s in sources}), sorted({s.kind for s in sources})
    for i, st in enumerate(stages):
        checks = [(f"stages[{i}].only", st.only or [], "names or kinds")]
        for f in dataclasses.fields(stage_class(st.stage).Config):
            value = st.config.get(f.name) if f.metadata.get("sources") else None
            if isinstance(value, (list, dict)):
                checks.append((f"stages[{i}].{st.stage}.{f.name}", list(value), f.metadata["sources"]))
        for where, items, what in checks:
            allowed = set(names) | (set(kinds) if what == "names or kinds" else set())
            for x in items:
                if x not in allowed:
                    raise RecipeError(
                        f"{where}: {x!r} is not a source of this recipe (sources: {', '.join(names)}"
                        + (f"; kinds: {', '.join(kinds)})" if what == "names or kinds" else ")")
                    )


def _stage_entry(st: dict, where: str) -> tuple[str, Any]:
    """(stage name, settings) of a stage entry: ``{name: settings}``, or ``{stage: name, config: settings}``
    (the form for a user stage's import path, ``stage: mypkg.filters:MyFilter``)."""
    if isinstance(st.get("stage"), str):
        bad = sorted(set(st) - {"stage", "config"} - STAGE_META_KEYS)
        if bad:
            raise RecipeError(
                f"{where}: unknown key {bad[0]!r} beside `stage:`; allowed keys: config, "
                f"{', '.join(sorted(STAGE_META_KEYS))}, stage"
            )
        return st["stage"], st.get("config")
    keys = [k for k in st if k not in STAGE_META_KEYS]
    if len(keys) != 1:
        raise RecipeError(f"{where}: expected exactly one stage name, got {keys}")
    return keys[0], st[keys[0]]


def parse_recipe(
    raw: Any, base_dir: Path = Path("."), default_name: str = "recipe", source_paths: bool = True
) -> Recipe:
    from curate.registry import reader_class, stage_class

    if not isinstance(raw, dict):
        raise RecipeError(f"recipe: expected a mapping at the top level, got {type(raw).__name__}")
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise RecipeError(
            f"recipe: unknown key {unknown[0]!r}{did_you_mean(unknown[0], TOP_KEYS)}; allowed keys: "
            f"{', '.join(sorted(TOP_KEYS))}"
        )
    name = check_plain_name(check_type(raw.get("name", default_name), str, "name"), "name")  # runs/<name>
    check_type(raw.get("description", ""), str, "description")
    seed = check_type(raw.get("seed", 0), int, "seed")
    workers = check_type(raw.get("workers", 2), int, "workers")
    if workers < 0:
        raise RecipeError(f"workers: {workers} is out of range (must be >= 0; 0 runs in-process)")
    if not 0 <= seed < 2**31:  # fastText and the 64-bit draws take it; every seed of that range is as good
        raise RecipeError(f"seed: {seed} is out of range (must be >= 0 and < {2**31})")
    check_type(raw.get("keep_intermediate", False), bool, "keep_intermediate")
    src_raw = check_type(raw.get("sources", []), list, "sources")
    if not src_raw:
        raise RecipeError("sources: at least one source is required")
    sources = []
    for i, s in enumerate(src_raw):
        where = f"sources[{i}]"
        if not isinstance(s, dict):
            raise RecipeError(f"{where}: expected a mapping")
        bad = sorted(set(s) - SOURCE_KEYS)
        if bad:
            raise RecipeError(
                f"{where}: unknown key {bad[0]!r}{did_you_mean(bad[0], SOURCE_KEYS)}; allowed keys: "
                f"{', '.join(sorted(SOURCE_KEYS))}"
            )
        for req in ("name", "kind", "format", "paths"):
            if req not in s:
                raise RecipeError(f"{where}: missing required key {req!r}")
        paths = check_type(s["paths"] if isinstance(s["paths"], list) else [s["paths"]], list[str], f"{where}.paths")
        if not paths:
            raise RecipeError(f"{where}.paths: at least one path or glob is required")
        spec = SourceSpec(
            name=check_plain_name(check_type(s["name"], str, f"{where}.name"), f"{where}.name"),
            kind=check_type(s["kind"], str, f"{where}.kind"),
            format=check_type(s["format"], str, f"{where}.format"),
            paths=[
                resolve_path(p, base_dir, f"{where}.paths[{j}]") if source_paths else p for j, p in enumerate(paths)
            ],
            options=check_type(s.get("options") or {}, dict, f"{where}.options"),
        )
        rc = reader_class(spec.format, f"{where}.format")
        build_config(rc.Config, spec.options, f"{where}.options")  # validate early
        sources.append(spec)
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise RecipeError(f"sources: duplicate source name in {names}")
    stages = []
    for i, st in enumerate(check_type(raw.get("stages", []), list, "stages")):
        where = f"stages[{i}]"
        if isinstance(st, str):
            st = {st: {}}
        if not isinstance(st, dict):
            raise RecipeError(f"{where}: expected a stage name or a mapping {{stage: settings}}")
        sname, settings = _stage_entry(st, where)
        cls = stage_class(sname, where)
        cfg = _resolve_config_paths(cls.Config, settings or {}, base_dir, f"{where}.{sname}")
        build_config(cls.Config, cfg, f"{where}.{sname}")
        only = st.get("only")
        if only is not None:
            only = check_type(only if isinstance(only, list) else [only], list[str], f"{where}.only")
            if not only:
                raise RecipeError(
                    f"{where}.only: an empty list selects no source; leave `only` out to apply the "
                    "stage to every source"
                )
        stages.append(StageSpec(stage=sname, config=cfg, only=only))
    _check_source_names(sources, stages)
    if raw.get("tokenizer") is not None:  # `tokenizer: path/to/model` reuses a trained tokenizer
        tok = resolve_path(check_type(raw["tokenizer"], str, "tokenizer"), base_dir, "tokenizer")
        targets = [st for st in stages if st.stage == "tokenize"]
        if not targets:
            raise RecipeError("tokenizer: set, but the recipe has no tokenize stage to use it")
        for st in targets:
            st.config = dict(st.config, model=tok)
    return Recipe(
        name=name, seed=seed, workers=workers, sources=sources, stages=stages, base_dir=Path(base_dir), raw=raw
    )
