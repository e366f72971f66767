"""ONNX export: the exported graphs on onnxruntime translate like the PyTorch model (greedy and
beam search, several designs), translate.py --onnx works without importing torch, and a damaged
export folder is one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("onnxruntime", reason='the onnx extra is not installed '
                                          '(pip install -e ".[onnx]")')
pytest.importorskip("onnx", reason='the onnx extra is not installed (pip install -e ".[onnx]")')

from omegaconf import OmegaConf  # noqa: E402

from seq2seq.decoding.translator import Translator  # noqa: E402
from seq2seq.errors import Seq2SeqError  # noqa: E402
from seq2seq.export.onnx_export import export_onnx  # noqa: E402
from seq2seq.export.onnx_runtime import OnnxTranslator  # noqa: E402
from seq2seq.training.loop import train  # noqa: E402

from .helpers import ROOT, toy_pairs  # noqa: E402

pytestmark = pytest.mark.slow  # subprocesses and trainings: see pyproject's markers

SOURCES = [f for f, _ in toy_pairs()[:60]] + ["", "Le chat noir dort dans le jardin ?"]


def decode(beam: int, n_best: int = 1):
    cfg = OmegaConf.load(ROOT / "conf" / "decode" / "greedy.yaml")
    return OmegaConf.merge(cfg, {"beam_size": beam, "n_best": n_best})


@pytest.mark.parametrize("beam", [1, 4])
def test_onnx_translates_like_pytorch(trained, tmp_path, beam):
    folder = export_onnx(trained, tmp_path / "export")
    onnx = OnnxTranslator(folder, decode(beam, n_best=2 if beam > 1 else 1)).translations(SOURCES)
    torch_ = Translator.from_checkpoint(trained, decode(beam, 2 if beam > 1 else 1)).translations(
        SOURCES)
    assert [t.text for t in onnx] == [t.text for t in torch_]
    for a, b in zip(onnx, torch_):
        assert [c.text for c in a.nbest] == [c.text for c in b.nbest]
        for s1, s2 in zip([c.score for c in a.nbest], [c.score for c in b.nbest]):
            assert s1 == pytest.approx(s2, abs=1e-3)


@pytest.mark.parametrize("model", ["lstm_attention", "gru_bahdanau", "gru_noattention"])
def test_other_designs_export_too(make_cfg, tmp_path, model):
    extra = ["model.decoder.input_feeding=true"] if model == "lstm_attention" else []
    cfg = make_cfg("train", [f"model={model}", "train.max_steps=40", "train.valid_every=40",
                             *extra])
    train(cfg, tmp_path / "run", log=lambda *_: None)
    ckpt = tmp_path / "run" / "checkpoints" / "last.pt"
    folder = export_onnx(ckpt, tmp_path / "export")
    for beam in (1, 3):
        onnx = OnnxTranslator(folder, decode(beam)).translate(SOURCES[:20])
        assert onnx == Translator.from_checkpoint(ckpt, decode(beam)).translate(
            SOURCES[:20])


def test_translate_script_with_onnx_does_not_import_torch(trained, tmp_path, script_env):
    folder = export_onnx(trained, tmp_path / "export")
    code = ("import runpy, sys; sys.argv = ['translate.py', '--onnx', sys.argv[1], "
            "'--beam-size', '3', 'Le chat noir dort .']; "
            "sys.modules['torch'] = None; "  # any import of torch now fails
            "runpy.run_path('scripts/translate.py', run_name='__main__')")
    r = subprocess.run([sys.executable, "-c", code, str(folder)], env=script_env, cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "The black cat sleeps .\n"


def test_damaged_export_is_one_line(trained, tmp_path, script_env):
    folder = export_onnx(trained, tmp_path / "export")
    (folder / "decoder_step.onnx").write_bytes(b"not onnx")
    with pytest.raises(Seq2SeqError, match="damaged ONNX file"):
        OnnxTranslator(folder, decode(1))
    (folder / "settings.json").unlink()
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "translate.py"), "--onnx",
                        str(folder), "Le chat ."], env=script_env, cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr == f"error: export folder {folder} lacks settings.json; export it again\n"
