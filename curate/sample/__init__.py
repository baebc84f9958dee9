"""Sample corpus builder (``make sample``): real text from Debian packages and the local Python.

``python -m curate.sample build --out data/sample`` writes ``web/*.warc.gz``, ``wiki/*.xml.bz2``,
``books/*.txt`` and ``code/<repo>/`` (the layout of ``shared/corpus``); ``--from DIR`` copies such a
directory instead. See docs/SAMPLE.md for sources, licences and the URL mapping.
"""
from __future__ import annotations

from curate.sample.build import BUILDER_VERSION, BuildOptions, build

__all__ = ["BUILDER_VERSION", "BuildOptions", "build"]
