import errno
import os
import pickle

import pytest
import torch

from seq2seq.checkpoint import load_checkpoint, save_checkpoint
from seq2seq.decoding.translator import Translator
from seq2seq.errors import Seq2SeqError


def test_round_trip_gives_identical_translations(trained, make_cfg, tmp_path):
    cfg = make_cfg("train")
    ckpt = load_checkpoint(trained)
    copy = tmp_path / "copy.pt"
    save_checkpoint({k: v for k, v in ckpt.items() if k not in ("format", "version")}, copy)
    lines = ["Le chat noir dort .", "La femme rouge mange sur la plage ."]
    a = Translator.from_checkpoint(trained, cfg.decode).translations(lines)
    b = Translator.from_checkpoint(copy, cfg.decode).translations(lines)
    assert [t.text for t in a] == [t.text for t in b]
    assert [t.score for t in a] == [t.score for t in b]


def test_checkpoint_is_plain_data(trained):
    obj = torch.load(trained, weights_only=True)  # raises if anything but plain data is inside
    assert set(obj) >= {"model", "config", "vocab", "train_state"}
    assert isinstance(obj["vocab"]["src"], bytes)
    assert obj["config"]["model"]["name"] == "gru_attention"


class _Payload:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_payload_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    evil = _Payload()
    evil.marker = marker
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        torch.save({"format": "seq2seq-checkpoint", "version": 1, "model": evil}, f)
    with pytest.raises(Seq2SeqError, match="refused"):
        load_checkpoint(path)
    assert not marker.exists()
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(evil))
    with pytest.raises(Seq2SeqError):
        load_checkpoint(raw)
    assert not marker.exists()


@pytest.mark.parametrize("content,message", [
    (b"", "is empty"),
    (os.urandom(4096), "truncated or not a checkpoint"),
])
def test_damaged_files(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(Seq2SeqError, match=message):
        load_checkpoint(path)


def test_truncated_and_missing(trained, tmp_path):
    path = tmp_path / "cut.pt"
    path.write_bytes(trained.read_bytes()[:50_000])
    with pytest.raises(Seq2SeqError, match="truncated or not a checkpoint"):
        load_checkpoint(path)
    with pytest.raises(Seq2SeqError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")


def test_foreign_file(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    with pytest.raises(Seq2SeqError, match="not a seq2seq checkpoint"):
        load_checkpoint(path)


def test_disk_full_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint({"model": {"w": torch.ones(3)}, "config": {}, "vocab": {}}, path)
    before = path.read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(Seq2SeqError, match="no space left to write .*previous checkpoint"):
        save_checkpoint({"model": {"w": torch.zeros(3)}, "config": {}, "vocab": {}}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left
