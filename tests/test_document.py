"""Documents (`seq2seq-translate --document`): the layout comes back unchanged and each
sentence is translated as it would be on a line of its own; bad input is named."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seq2seq.decoding.document import translate_document
from seq2seq.decoding.translator import Translator
from seq2seq.errors import Seq2SeqError

from .helpers import ROOT, toy_pairs

FRENCH = [f for f, _ in toy_pairs()[:40]]
MARKERS = ["", "", "- ", "* ", "1. ", "12) ", "# ", "### ", "> ", "  ", "    - "]


@pytest.fixture(scope="module")
def translator(trained):
    return Translator.from_checkpoint(trained, beam_size=1)


def run_document(translator, text: str | bytes, tmp_path, **kw) -> str:
    path = tmp_path / "doc.txt"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    out = io.StringIO()
    with open(path, "rb") as src:
        translate_document(translator, src, out, str(path), **kw)
    return out.getvalue()


@st.composite
def documents(draw):
    """(text, [(marker, sentences) per line, None for a blank line])."""
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        if draw(st.integers(0, 4)) == 0:
            lines.append(None)
            continue
        marker = draw(st.sampled_from(MARKERS))
        sentences = draw(st.lists(st.sampled_from(FRENCH), min_size=1, max_size=8))
        lines.append((marker, sentences))
    text = "".join("\n" if ln is None else ln[0] + " ".join(ln[1]) + "\n" for ln in lines)
    return text, lines


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents())
def test_layout_and_sentences_round_trip(translator, tmp_path, doc):
    text, lines = doc
    one_per_line = dict(zip(FRENCH, translator.translate(FRENCH)))
    want = "".join("\n" if ln is None else
                   ln[0] + " ".join(one_per_line[s] for s in ln[1]) + "\n" for ln in lines)
    assert run_document(translator, text, tmp_path, block_lines=3) == want


def test_two_hundred_paragraphs(translator, tmp_path):
    """Headings, lists and paragraphs of 1-8 sentences: the same lines, blank lines and
    markers, each sentence as translated one per line."""
    one = dict(zip(FRENCH, translator.translate(FRENCH)))
    paragraphs, want = [], []
    for i in range(200):
        sents = [FRENCH[(i + k) % 40] for k in range(1 + i % 8)]
        if i % 5 == 0:
            paragraphs.append(f"## {sents[0]}")
            want.append(f"## {one[sents[0]]}")
        elif i % 5 == 1:
            paragraphs.append("\n".join(f"- {x}" for x in sents[:3]))
            want.append("\n".join(f"- {one[x]}" for x in sents[:3]))
        else:
            paragraphs.append(" ".join(sents))
            want.append(" ".join(one[x] for x in sents))
    text = "\n\n".join(paragraphs) + "\n"
    assert run_document(translator, text, tmp_path) == "\n\n".join(want) + "\n"


def test_bad_documents(translator, tmp_path):
    with pytest.raises(Seq2SeqError, match="line 2: a NUL byte; this is not a text file"):
        run_document(translator, b"Le chat dort .\n\x00\x01PK\x03\n", tmp_path)
    warnings = []
    translator.warn = warnings.append
    long = "mot " * 30
    text = f"{FRENCH[0]}\n{long}\n".encode() + b"\xff\n"  # line 3: not UTF-8
    out = run_document(translator, text, tmp_path, max_line_chars=100)
    assert out.splitlines()[1] == long
    assert warnings[0].startswith("line 2: 120 characters (over 100); copied untranslated")
    assert "line 3: invalid UTF-8" in warnings[1]


@pytest.mark.slow
def test_document_command(trained, script_env, tmp_path):
    src = tmp_path / "letter.txt"
    src.write_text(f"# {FRENCH[0]}\n\n{FRENCH[1]} {FRENCH[2]}\n  - {FRENCH[3]}\n", "utf-8")
    out = tmp_path / "letter.en.txt"
    cmd = [sys.executable, str(ROOT / "scripts" / "translate.py"), "-c", str(trained)]
    r = subprocess.run([*cmd, "--document", str(src), "-o", str(out)], env=script_env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    piped = subprocess.run([*cmd, "--document", "-"], input=src.read_text(), env=script_env,
                           capture_output=True, text=True, timeout=300)
    assert piped.stdout == out.read_text()
    lines = out.read_text().splitlines()
    assert lines[0].startswith("# ") and lines[1] == "" and lines[3].startswith("  - ")
    both = subprocess.run([*cmd, "--document", str(src), "--scores"], env=script_env,
                          capture_output=True, text=True, timeout=300)
    assert both.returncode != 0 and "--scores: per sentence, not with --document" in both.stderr
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\x00\x01\x02")
    r = subprocess.run([*cmd, "--document", str(binary)], env=script_env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "line 1: a NUL byte" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_ten_megabyte_line_is_copied_with_a_warning(translator, tmp_path):
    warnings = []
    translator.warn = warnings.append
    huge = "chat " * 2_000_000  # 10 MB, one line
    out = run_document(translator, f"{FRENCH[0]}\n{huge}\n{FRENCH[1]}\n", tmp_path)
    lines = out.split("\n")
    assert lines[1] == huge and len(lines) == 4
    assert warnings == ["line 2: 10,000,000 characters (over 100,000); copied untranslated"]
