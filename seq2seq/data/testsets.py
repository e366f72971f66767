"""Standard test sets by name through sacreBLEU's own dataset API (WMT newstest and others):
`seq2seq-evaluate testsets=[wmt14,wmt15]`.

sacreBLEU downloads a set once into its cache folder (`$SACREBLEU`, default `~/.sacrebleu`) and
reads it from there afterwards; offline, a set that is not there stops the run with one line
saying how to provide it.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import Seq2SeqError

LANGPAIR = "fr-en"


def _read(path: str) -> list[str]:
    return Path(path).read_text(encoding="utf-8").splitlines()


def load_testset(name: str) -> tuple[list[str], list[str]]:
    """(French sources, English references) of the sacreBLEU test set `name` for fr-en (the
    first reference where a set has several)."""
    from sacrebleu.dataset import DATASETS
    from sacrebleu.utils import SACREBLEU_DIR

    if name not in DATASETS or LANGPAIR not in DATASETS[name].langpairs:
        known = sorted(n for n, d in DATASETS.items() if LANGPAIR in d.langpairs)
        raise Seq2SeqError(f"sacreBLEU has no {LANGPAIR} test set '{name}'; known: "
                           f"{', '.join(known)}")
    dataset = DATASETS[name]
    try:
        src = _read(dataset.get_source_file(LANGPAIR))
        refs = _read(dataset.get_reference_files(LANGPAIR)[0])
    except Exception as err:  # sacreBLEU's download raises many kinds of error
        folder = Path(SACREBLEU_DIR) / name.replace("/", "_")
        raise Seq2SeqError(
            f"sacreBLEU test set {name} ({LANGPAIR}) is not in {folder} and could not be "
            f"downloaded ({type(err).__name__}); on a machine with internet run "
            f"`sacrebleu -t {name} -l {LANGPAIR} --echo src > /dev/null` and copy that folder "
            f"here, or set SACREBLEU to a folder that holds it")
    if len(src) != len(refs) or not src:
        raise Seq2SeqError(f"sacreBLEU test set {name} in {SACREBLEU_DIR} is damaged "
                           f"({len(src)} sources, {len(refs)} references); delete it and retry")
    return src, refs
