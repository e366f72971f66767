from omegaconf import OmegaConf

from seq2seq.data.cleaning import keep_pair, normalize

NORM = OmegaConf.create({"unicode": "NFC", "collapse_whitespace": True, "strip_control": True})
FILTER = OmegaConf.create({"max_words": 5, "max_ratio": 2.0})


def test_nfc_joins_combining_accents():
    assert normalize("e\u0301le\u0300ve", NORM) == "\u00e9l\u00e8ve"


def test_whitespace_collapses_tabs_nbsp_and_edges():
    assert normalize("  Bonjour\u00a0!\t\tÇa  va ?\u202f ", NORM) == "Bonjour ! Ça va ?"


def test_control_characters_are_dropped():
    assert normalize("a\x00b\x1b[31mc", NORM) == "ab[31mc"


def test_normalisation_can_be_turned_off():
    cfg = OmegaConf.create({"unicode": "none", "collapse_whitespace": False,
                            "strip_control": False})
    assert normalize("e\u0301  x\x00", cfg) == "e\u0301  x\x00"


def test_filters():
    assert keep_pair("un deux", "one two", FILTER)
    assert not keep_pair("", "one", FILTER)
    assert not keep_pair("un", "", FILTER)
    assert not keep_pair("a b c d e f", "a b c d e f", FILTER)  # too long
    assert not keep_pair("a", "a b c", FILTER)  # ratio 3 > 2
    assert keep_pair("a", "a b", FILTER)
