"""The datatrove side of ``bench/vs_datatrove.py``, run by ``.venv-bench``'s python (never imported by curate).

The same job as curate's: WARC -> trafilatura -> fastText language ID (the very lid.176.ftz curate uses,
handed to datatrove's FT176 wrapper: no download) -> Gopher repetition and quality, C4, FineWeb filters ->
exact dedup -> MinHash near dedup, each dedup in datatrove's documented stages. Datatrove's own defaults
elsewhere. Usage: ``python _datatrove_job.py WARC OUT LID_MODEL TASKS WORKERS``.
"""

import sys

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup import (
    ExactDedupConfig,
    ExactDedupFilter,
    ExactDedupSignature,
    ExactFindDedups,
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
    LanguageFilter,
)
from datatrove.pipeline.readers import JsonlReader, WarcReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.lid import FT176LID


class LocalFT176(FT176LID):
    """Datatrove's FT176 language ID with the model read from a local file (datatrove would download it)."""

    path = ""

    @property
    def model(self):
        if self._model is None:
            from fasttext.FastText import _FastText

            self._model = _FastText(self.path)
        return self._model


def text_of(doc) -> str:
    return doc.text


def main(warc: str, out: str, lid_model: str, tasks: int, workers: int) -> None:
    LocalFT176.path = lid_model
    lang = LanguageFilter()
    lang.model = LocalFT176(lang.model.languages)

    def run(steps, name, n=tasks):
        LocalPipelineExecutor(steps, tasks=n, workers=min(workers, n), logging_dir=f"{out}/logs/{name}").run()

    run(
        [
            WarcReader(warc),
            Trafilatura(favour_precision=True, timeout=5.0),
            lang,
            GopherRepetitionFilter(),
            GopherQualityFilter(),
            C4QualityFilter(filter_no_terminal_punct=False),
            FineWebQualityFilter(),
            JsonlWriter(f"{out}/filtered"),
        ],
        "filter",
        1,
    )
    exact = ExactDedupConfig(content_getter=text_of)
    run([JsonlReader(f"{out}/filtered"), ExactDedupSignature(f"{out}/exact_sigs", exact, finder_workers=1)], "esig")
    run([ExactFindDedups(f"{out}/exact_sigs", f"{out}/exact_dups", exact)], "efind", 1)
    run(
        [JsonlReader(f"{out}/filtered"), ExactDedupFilter(f"{out}/exact_dups", exact), JsonlWriter(f"{out}/exact")],
        "efilter",
    )
    mh = MinhashConfig()
    run([JsonlReader(f"{out}/exact"), MinhashDedupSignature(f"{out}/mh_sigs", config=mh)], "msig")
    run([MinhashDedupBuckets(f"{out}/mh_sigs", f"{out}/mh_buckets", config=mh)], "mbuckets", mh.num_buckets)
    run([MinhashDedupCluster(f"{out}/mh_buckets", f"{out}/mh_remove", config=mh)], "mcluster", 1)
    run([JsonlReader(f"{out}/exact"), MinhashDedupFilter(f"{out}/mh_remove"), JsonlWriter(f"{out}/final")], "mfilter")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
