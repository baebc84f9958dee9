"""The one test of whether an input path is a URL (read through fsspec) or a local file."""

from __future__ import annotations


def is_url(path: str) -> bool:
    """Whether ``path`` is a URL read through fsspec (``s3://``, ``https://`` ...); ``file://`` is local."""
    return "://" in path and not path.startswith("file://")


def is_local(path: str) -> bool:
    return not is_url(path)
