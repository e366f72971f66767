"""Glossaries: French term TAB English term, one pair per line. Where a French term occurs in a
sentence (case and Unicode form ignored, whole words, the longest terms first, no two matches
overlapping), its English term must appear in the translation (`decoding/constrained.py`).

Lines without a tab, with an empty side, or repeating a French term are skipped with a warning
naming the line; blank lines and lines starting with `#` are comments. A file that is not
UTF-8 is an error.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ..errors import Seq2SeqError


def fold(text: str) -> str:
    """The form terms are matched in: NFKC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass(frozen=True)
class Glossary:
    entries: tuple[tuple[str, str], ...]  # (French, English), longest French first

    @classmethod
    def of(cls, pairs) -> Glossary:
        seen: dict[str, tuple[str, str]] = {}
        for fr, en in pairs:
            seen[fold(fr)] = (fr.strip(), en.strip())
        return cls(tuple(sorted(seen.values(), key=lambda p: (-len(fold(p[0])), fold(p[0])))))

    def __post_init__(self):
        object.__setattr__(self, "_patterns", [
            re.compile(r"(?<!\w)" + re.escape(fold(fr)) + r"(?!\w)") for fr, _ in self.entries])

    def terms(self, sentence: str) -> list[tuple[str, str]]:
        """The (French, English) entries whose French term occurs in `sentence`."""
        text, taken, out = fold(sentence), [], []
        for entry, pattern in zip(self.entries, self._patterns):
            for m in pattern.finditer(text):
                if all(m.end() <= a or m.start() >= b for a, b in taken):
                    taken.append((m.start(), m.end()))
                    out.append(entry)
                    break
        return out


def read_glossary(path: str, warn) -> Glossary:
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise Seq2SeqError(f"glossary {path}: cannot read it ({err.strerror})")
    try:
        lines = raw.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise Seq2SeqError(f"glossary {path} line {line}: not UTF-8 (save it as UTF-8 text)")
    pairs, seen = [], {}
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "\t" not in line:
            warn(f"glossary {path} line {n}: no tab between the French and the English term; "
                 f"skipped")
            continue
        fr, en = line.split("\t", 1)
        if not fr.strip() or not en.strip():
            warn(f"glossary {path} line {n}: an empty term; skipped")
            continue
        if fold(fr) in seen:
            warn(f"glossary {path} line {n}: '{fr.strip()}' again (line {seen[fold(fr)]}); "
                 f"the last one is used")
        seen[fold(fr)] = n
        pairs.append((fr, en))
    return Glossary.of(pairs)
