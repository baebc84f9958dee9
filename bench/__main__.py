"""``python -m bench [NAME ...]``: run benchmarks (each ``bench/<name>.py`` has ``main(argv)``).

Each benchmark measures our code and the reference library side by side in the same run and prints
ratios; no thresholds are asserted (machines are noisy).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

ONLY_BY_NAME = {"scale"}  # minutes to hours: ``python -m bench scale`` / ``make bench-scale``, not ``make bench``


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_"))
    wanted = [a for a in argv if not a.startswith("-")] or [n for n in names if n not in ONLY_BY_NAME]
    rest = [a for a in argv if a.startswith("-")]
    for name in wanted:
        if name not in names:
            print(f"unknown benchmark {name!r}; available: {', '.join(names)}", file=sys.stderr)
            return 2
        print(f"=== bench {name}", flush=True)
        importlib.import_module(f"bench.{name}").main(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
