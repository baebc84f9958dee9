"""User steps: write a filter or a mapper in Python, run it in a recipe or a composed ``Pipeline``.

A ``DocFilter`` decides per document (``keep(doc)``: True keeps it, False drops it with reason
``<name>:rejected``, a string drops it with reason ``<name>:<string>``); a ``DocMapper`` rewrites it
(``map(doc)`` returns the document with a new ``text``, ``url`` or ``meta``). ``doc`` is a plain dict with
``id``, ``source``, ``kind``, ``url``, ``text`` (``""`` for a missing text) and ``meta`` (a dict). The batch
variants (``keep_batch``, ``map_batch``) take the whole Arrow batch for vectorised code; the default ones
call the per-document method. Both are ordinary stages (``curate.stage.Stage``): settings come from a
``Config`` dataclass declared on the class (checked like every stage's, errors naming the key), and a
stage may still add ``fit``/``finalize``. A document whose method raises is an error row with reason
``error:<ExceptionType>``, never a crash of the batch; every input row is kept, dropped or errored.

In a recipe a user step is named by import path: ``- stage: mypkg.filters:MyFilter`` (settings under
``config:``) or ``- mypkg.filters:MyFilter: {settings}``. The code of a user step is part of its resume
key (its module file; a function's code for ``FnFilter``/``FnMapper``), so editing it recomputes that
step and the ones after it, never the steps before.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Callable
from typing import Any, ClassVar

import pyarrow as pa

from curate.schema import DOC_SCHEMA, encode_meta, meta_dicts, with_reason
from curate.stage import Stage, StageResult

Doc = dict[str, Any]
_NAME = re.compile(r"[^a-z0-9_]+")


def step_name(stage: Any) -> str:
    """The step name of a stage (class or object): its ``name``, else its class name in lower case
    (``MyFilter`` -> ``myfilter``); letters, digits and ``_`` only, as it names output folders and reasons."""
    cls = stage if isinstance(stage, type) else type(stage)
    return _NAME.sub("_", (getattr(stage, "name", "") or cls.__name__).lower()).strip("_") or "step"


def _docs(batch: pa.Table) -> list[Doc]:
    cols = {n: batch.column(n).to_pylist() for n in ("id", "source", "kind", "url", "text")}
    metas = meta_dicts(batch)
    return [
        {
            "id": cols["id"][i],
            "source": cols["source"][i],
            "kind": cols["kind"][i],
            "url": cols["url"][i],
            "text": cols["text"][i] if isinstance(cols["text"][i], str) else "",
            "meta": metas[i],
        }
        for i in range(batch.num_rows)
    ]


def _take(batch: pa.Table, rows: list[int]) -> pa.Table:
    return batch.take(pa.array(rows, pa.int64()))


def _error(e: BaseException) -> str:
    return f"error:{type(e).__name__}"


class _UserStep(Stage):
    """What DocFilter and DocMapper share: a step name derived from the class (or given), errors per document."""

    name: ClassVar[str] = ""

    @property
    def step(self) -> str:
        return step_name(self)


class DocFilter(_UserStep):
    """Keep or drop each document. Override ``keep`` (one document) or ``keep_batch`` (a whole batch)."""

    def keep(self, doc: Doc) -> bool | str:
        """True keeps ``doc``; False drops it (``<name>:rejected``); a string drops it (``<name>:<string>``)."""
        raise NotImplementedError(f"{type(self).__name__}: override keep(doc) or keep_batch(batch)")

    def keep_batch(self, batch: pa.Table) -> list[bool | str | BaseException]:
        """One decision per row of ``batch`` (as ``keep``); an exception in the list errors that row."""
        out: list[bool | str | BaseException] = []
        for doc in _docs(batch):
            try:
                out.append(self.keep(doc))
            except Exception as e:  # one bad document must not stop the batch
                out.append(e)
        return out

    def _reason(self, verdict: Any) -> str | None:
        if verdict is True:
            return None
        if verdict is False or verdict is None:
            return f"{self.step}:rejected"
        if isinstance(verdict, str) and verdict:
            return verdict if verdict.startswith(f"{self.step}:") else f"{self.step}:{verdict}"
        if isinstance(verdict, bool):  # numpy bools and the like
            return None if verdict else f"{self.step}:rejected"
        raise TypeError(f"keep() returned {type(verdict).__name__}; expected True, False or a reason string")

    def apply(self, batch: pa.Table, state: Any) -> StageResult:
        try:
            verdicts = self.keep_batch(batch)
            if len(verdicts) != batch.num_rows:
                raise ValueError(f"keep_batch returned {len(verdicts)} decisions for {batch.num_rows} rows")
        except Exception as e:  # the batch variant failed as a whole: every row errors with its reason
            return StageResult(kept=batch.slice(0, 0), errors=with_reason(batch, _error(e), self.step))
        drops, errors = {}, {}
        for i, v in enumerate(verdicts):
            try:
                if isinstance(v, BaseException):
                    raise v
                if (reason := self._reason(v.item() if hasattr(v, "item") else v)) is not None:
                    drops[i] = reason
            except Exception as e:  # the row's own exception, or a verdict of the wrong type
                errors[i] = _error(e)
        return StageResult.split(batch, drops, errors, self.step)


class DocMapper(_UserStep):
    """Rewrite each document. Override ``map`` (one document) or ``map_batch`` (a whole batch)."""

    def map(self, doc: Doc) -> Doc:
        """``doc`` with a new ``text``, ``url`` or ``meta`` (``id``, ``source`` and ``kind`` are kept)."""
        raise NotImplementedError(f"{type(self).__name__}: override map(doc) or map_batch(batch)")

    def map_batch(self, batch: pa.Table) -> pa.Table | list[Doc | BaseException]:
        """``batch`` rewritten: a DOC_SCHEMA table of the same rows in the same order, or one document
        dict (or exception, which errors that row) per row."""
        out: list[Doc | BaseException] = []
        for doc in _docs(batch):
            try:
                out.append(self.map(dict(doc)))
            except Exception as e:  # one bad document must not stop the batch
                out.append(e)
        return out

    def apply(self, batch: pa.Table, state: Any) -> StageResult:
        try:
            mapped = self.map_batch(batch)
            if isinstance(mapped, pa.Table):
                if mapped.num_rows != batch.num_rows or mapped.column("id") != batch.column("id"):
                    raise ValueError("map_batch must return the same rows, in the same order")
                return StageResult(kept=mapped)
            if len(mapped) != batch.num_rows:
                raise ValueError(f"map_batch returned {len(mapped)} documents for {batch.num_rows} rows")
        except Exception as e:
            return StageResult(kept=batch.slice(0, 0), errors=with_reason(batch, _error(e), self.step))
        return self._rows(batch, mapped)

    def _rows(self, batch: pa.Table, mapped: list[Doc | BaseException]) -> StageResult:
        ok, err, err_why = [], [], []
        cols: dict[str, list] = {"text": [], "url": [], "meta": []}
        for i, (old, new) in enumerate(zip(_docs(batch), mapped)):
            try:
                if isinstance(new, BaseException):
                    raise new
                if not isinstance(new, dict):
                    raise TypeError(f"map() returned {type(new).__name__}; expected the document dict")
                text, url = new.get("text", old["text"]), new.get("url", old["url"])
                if not isinstance(text, str) or not (url is None or isinstance(url, str)):
                    raise TypeError("map() must leave text a string and url a string or None")
                meta = encode_meta(new.get("meta", old["meta"]))
                text.encode("utf-8")  # a lone surrogate cannot be stored: error the row, not the batch
            except Exception as e:
                err.append(i)
                err_why.append(_error(e))
                continue
            ok.append(i)
            cols["text"].append(text)
            cols["url"].append(url)
            cols["meta"].append(meta)
        kept = _take(batch, ok)
        for name, values in cols.items():
            field = DOC_SCHEMA.field(name)
            kept = kept.set_column(kept.schema.get_field_index(name), field, pa.array(values, field.type))
        return StageResult(kept=kept, errors=with_reason(_take(batch, err), err_why, self.step))


def _code_parts(code: Any) -> list[Any]:
    """A code object's bytecode, names and constants (nested code objects included), without addresses."""
    consts = [_code_parts(c) if inspect.iscode(c) else repr(c) for c in code.co_consts]
    return [code.co_code.hex(), list(code.co_names), consts]


def _plain(v: Any) -> bool:
    return (
        v is None
        or isinstance(v, (bool, int, float, str, bytes))
        or (isinstance(v, (tuple, list, frozenset)) and all(_plain(x) for x in v))
    )


def function_digest(fn: Callable[..., Any]) -> str:
    """A digest of a function's code (bytecode, names, constants, and the plain values it closes over),
    so two lambdas on one line, or one closing over another threshold, key differently."""
    code = getattr(fn, "__code__", None)
    if code is None:  # a callable object: its class's methods
        return class_digest(type(fn))
    cells = [
        repr(c.cell_contents) if _plain(c.cell_contents) else type(c.cell_contents).__name__
        for c in fn.__closure__ or ()
    ]
    return hashlib.sha256(repr([_code_parts(code), cells, repr(fn.__defaults__)]).encode()).hexdigest()[:12]


def class_digest(cls: type) -> str:
    """A digest of a class's own methods (for a class with no source file, e.g. defined in a notebook)."""
    parts = [function_digest(v) for k, v in sorted(vars(cls).items()) if inspect.isfunction(v)]
    return hashlib.sha256("".join(parts).encode()).hexdigest()[:12]


class FnFilter(DocFilter):
    """A filter from a function: ``FnFilter(lambda doc: len(doc["text"]) > 200, name="long")``."""

    def __init__(self, fn: Callable[[Doc], bool | str], name: str = "fn_filter"):
        super().__init__()
        self.fn, self.name = fn, name  # type: ignore[misc]  # this object's step name

    def keep(self, doc: Doc) -> bool | str:
        return self.fn(doc)

    def config_dict(self) -> dict:
        return {"name": self.name}

    def code_digest(self) -> str:
        return function_digest(self.fn)


class FnMapper(DocMapper):
    """A mapper from a function: ``FnMapper(lambda doc: {**doc, "text": doc["text"].strip()}, name="strip")``."""

    def __init__(self, fn: Callable[[Doc], Doc], name: str = "fn_mapper"):
        super().__init__()
        self.fn, self.name = fn, name  # type: ignore[misc]  # this object's step name

    def map(self, doc: Doc) -> Doc:
        return self.fn(doc)

    def config_dict(self) -> dict:
        return {"name": self.name}

    def code_digest(self) -> str:
        return function_digest(self.fn)


__all__ = ["Doc", "DocFilter", "DocMapper", "FnFilter", "FnMapper", "class_digest", "function_digest", "step_name"]
