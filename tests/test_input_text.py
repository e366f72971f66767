"""Hostile and unusual text through the translator: every input line gives one output line."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seq2seq.decoding.stream import translate_stream
from seq2seq.decoding.translator import Translator


@pytest.fixture(scope="module")
def translator(trained):

    warnings: list[str] = []
    t = Translator.from_checkpoint(trained)
    t.warn = warnings.append
    t.warnings = warnings
    return t


def stream(translator, data: bytes, tmp_path) -> list[str]:
    path = tmp_path / "input.txt"
    path.write_bytes(data)
    out = io.StringIO()
    with open(path, "rb") as f:
        translate_stream(translator, f, out)
    return out.getvalue().split("\n")[:-1]


def test_empty_and_whitespace_only_lines(translator, tmp_path):
    out = stream(translator, b"\n   \n\t\xc2\xa0\nLe chat dort .\n\n", tmp_path)
    assert out[:3] == ["", "", ""] and out[3] and out[4] == "" and len(out) == 5


def test_line_of_2000_tokens(translator, tmp_path):
    translator.warnings.clear()
    out = stream(translator, (" ".join(["chien"] * 2000) + "\nLe chat dort .\n").encode(),
                 tmp_path)
    assert len(out) == 2
    assert any("line 1:" in w and "truncated" in w for w in translator.warnings)


def test_single_line_of_one_megabyte(translator, tmp_path):
    out = stream(translator, ("le chat noir " * 80_000).encode() + b"\n", tmp_path)
    assert len(out) == 1


def test_invalid_utf8_is_replaced_and_reported(translator, tmp_path):
    translator.warnings.clear()
    out = stream(translator, b"Le chat .\nLe \xff\xfe chien .\n\xc3\n", tmp_path)
    assert len(out) == 3
    assert [w for w in translator.warnings if "invalid UTF-8" in w] == [
        "line 2: invalid UTF-8, undecodable bytes replaced by U+FFFD",
        "line 3: invalid UTF-8, undecodable bytes replaced by U+FFFD"]


def test_control_characters_and_nul(translator, tmp_path):
    out = stream(translator, b"Le\x00 chat\x1b[0m dort\x07 .\n\x00\x00\n\x0b\x0c\n", tmp_path)
    assert len(out) == 3 and out[1] == "" and out[2] == ""


def test_emoji_cjk_rtl_and_combining_accents(translator, tmp_path):
    lines = ["Le chat 🐈 dort 😀 .", "猫が寝ている。", "القط نائم", "שלום", "e\u0301le\u0300ve",
             "Z\u0351\u0358a\u0325l\u0317g\u0353o"]
    out = stream(translator, ("\n".join(lines) + "\n").encode(), tmp_path)
    assert len(out) == len(lines)


def test_windows_line_endings_translate_like_unix(translator, tmp_path):
    unix = stream(translator, b"Le chat noir dort .\nLa fille court .\n", tmp_path)
    windows = stream(translator, b"Le chat noir dort .\r\nLa fille court .\r\n", tmp_path)
    assert windows == unix


def test_missing_final_newline(translator, tmp_path):
    assert len(stream(translator, b"Le chat .\nLe chien .", tmp_path)) == 2


def test_text_already_in_english(translator, tmp_path):
    out = stream(translator, b"The black cat sleeps .\n", tmp_path)
    assert len(out) == 1


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(st.characters(blacklist_characters="\n", blacklist_categories=["Cs"]),
                        max_size=60), min_size=1, max_size=8))
def test_random_unicode_keeps_line_count(translator, tmp_path, lines):
    out = stream(translator, ("\n".join(lines) + "\n").encode("utf-8"), tmp_path)
    assert len(out) == len(lines)
    direct = translator.translations(lines)
    assert len(direct) == len(lines)
    assert all("\n" not in t.text for t in direct)
