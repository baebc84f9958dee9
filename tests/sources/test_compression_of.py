"""A local file's compression is read from its extension without fsspec (``compression_of``), as fsspec names it."""

import pytest
from fsspec.utils import infer_compression

from curate.sources.decompress import EXTENSIONS, KINDS, compression_of

NAMES = [
    "a.warc.gz",
    "b.JSONL.GZ",
    "c.xml.bz2",
    "d.txt.xz",
    "e.lzma",
    "f.parquet",
    "g.jsonl.zst",
    "h.zip",
    "i.tar",
    "no_extension",
    ".gz",
    "dir.gz/file.jsonl",
    "https://host/x/y.warc.gz?part=1",
    "s3://bucket/key.ZST",
]


@pytest.mark.parametrize("name", NAMES)
def test_compression_of_names_what_fsspec_infers(name):
    assert compression_of(name) == infer_compression(name)


def test_every_compression_fsspec_registers_here_is_known():
    from fsspec.utils import compressions  # fsspec's extension registry, as installed

    assert compressions == EXTENSIONS
    assert set(EXTENSIONS.values()) - set(KINDS) == {"zip"}  # readers refuse a .zip (one member of many)
