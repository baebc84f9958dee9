"""The test suite, one folder per component (sources, extract, filters, dedup, runner, cli, ...)."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
