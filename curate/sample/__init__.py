"""Sample corpus builder (``curate sample``, ``make sample``): real text from Debian packages and the local Python.

``curate sample [--out DIR]`` (default ``curate.io.sample_dir()``, where the shipped recipes look)
writes ``web/*.warc.gz``, ``wiki/*.xml.bz2``,
``books/*.txt`` and ``code/<repo>/`` (the layout of ``shared/corpus``); ``--from DIR`` copies such a
directory instead. See docs/SAMPLE.md for sources, licences and the URL mapping.
"""

from __future__ import annotations

from curate.sample.build import BUILDER_VERSION, BuildOptions, build

__all__ = ["BUILDER_VERSION", "BuildOptions", "build"]
