"""precision=auto: picks the faster precision by measurement, obeys explicit settings, caches its
answer per machine and leaves the model and the random number generators as they were."""

import pytest
import torch
from omegaconf import OmegaConf

from seq2seq.errors import Seq2SeqError
from seq2seq.training import precision

NATIVE_BF16_CHECK = precision.bf16_matmul_supported  # the real check, before any fixture


@pytest.fixture(autouse=True)
def no_native_bf16(monkeypatch):
    """The same candidates on every CPU (fp32 and bf16 autocast), unless a test says otherwise."""
    monkeypatch.setattr(precision, "bf16_matmul_supported", lambda: False)


def tcfg(choice="auto", margin=0.05):
    return OmegaConf.create({"precision": choice, "device": "cpu", "threads": 2,
                             "batch_tokens": 100,
                             "calibration": {"rounds": 2, "steps": 1, "margin": margin}})


@pytest.mark.parametrize("rates,margin,expected", [
    ({"fp32": 100.0, "bf16": 150.0}, 0.05, "bf16"),
    ({"fp32": 150.0, "bf16": 100.0}, 0.05, "fp32"),
    ({"fp32": 100.0, "bf16": 104.0}, 0.05, "fp32"),  # faster, but not by the margin
    ({"fp32": 100.0, "bf16": 104.0}, 0.0, "bf16"),
])
def test_choose_the_faster_by_a_margin(rates, margin, expected):
    assert precision.choose(rates, margin) == expected


class FakeBatch:
    n_tokens = 10


def calibrate(cfg, cache_file, rates, monkeypatch, log):
    calls = []

    def fake_measure(step, options, rounds, steps):
        calls.append(options)
        for p in options:  # the real step runs: it trains only a copy of the model
            step(p)
        return rates

    monkeypatch.setattr(precision, "measure", fake_measure)
    model = torch.nn.Linear(3, 3)

    def train_step(m, optimizer, batch, p):
        assert m is not model
        torch.rand(5)  # consumes random numbers, as dropout would
        m.weight.data.add_(1.0)

    before = model.weight.detach().clone()
    rng = torch.get_rng_state()
    choice = precision.calibrate(model, lambda p: torch.optim.SGD(p, lr=0.1), [FakeBatch()],
                                 train_step, cfg, OmegaConf.create({"name": "m"}), cache_file,
                                 log)
    assert torch.equal(model.weight, before)
    assert torch.equal(torch.get_rng_state(), rng)
    return choice, calls


def test_auto_measures_once_then_reads_the_cache(tmp_path, monkeypatch):
    cache, lines = tmp_path / "precision.json", []
    choice, calls = calibrate(tcfg(), cache, {"fp32": 100.0, "bf16": 180.0}, monkeypatch,
                              lines.append)
    assert choice == "bf16" and calls == [["fp32", "bf16"]]
    assert "precision auto: bf16 (fp32 100 tok/s, bf16 180 tok/s" in lines[-1]
    choice, calls = calibrate(tcfg(), cache, {"fp32": 999.0, "bf16": 1.0}, monkeypatch,
                              lines.append)
    assert choice == "bf16" and calls == []  # cached: not measured again
    assert "measured before on this machine" in lines[-1]


def test_auto_keeps_fp32_when_bf16_is_slower(tmp_path, monkeypatch):
    lines = []
    choice, _ = calibrate(tcfg(), None, {"fp32": 120.0, "bf16": 100.0}, monkeypatch,
                          lines.append)
    assert choice == "fp32" and "bf16 not faster by more than 5%" in lines[-1]


def test_bf16_matmul_is_a_candidate_where_the_cpu_has_native_bf16(tmp_path, monkeypatch):
    assert precision.candidates("cpu") == ["fp32", "bf16"]
    monkeypatch.setattr(precision, "bf16_matmul_supported", lambda: True)
    assert precision.candidates("cpu") == ["fp32", "bf16", "bf16_matmul"]
    assert "bf16_matmul" not in precision.candidates("cuda")
    lines = []
    choice, calls = calibrate(tcfg(), None, {"fp32": 100.0, "bf16": 130.0, "bf16_matmul": 160.0},
                              monkeypatch, lines.append)
    assert choice == "bf16_matmul" and calls == [["fp32", "bf16", "bf16_matmul"]]
    assert "bf16_matmul 160 tok/s on this machine; bf16_matmul faster)" in lines[-1]
    choice, _ = calibrate(tcfg(), None, {"fp32": 100.0, "bf16": 90.0, "bf16_matmul": 103.0},
                          monkeypatch, lines.append)
    assert choice == "fp32" and "bf16 / bf16_matmul not faster by more than 5%" in lines[-1]


def test_bf16_matmul_sets_onednn_products_to_bf16_for_the_block_only():
    flags = torch.backends.mkldnn.matmul
    before = flags.fp32_precision
    with pytest.raises(KeyboardInterrupt):  # restored however the block ends
        with precision.autocast("cpu", "bf16_matmul"):
            assert flags.fp32_precision == "bf16"
            assert not torch.is_autocast_enabled("cpu")  # the tensors stay fp32
            raise KeyboardInterrupt
    assert flags.fp32_precision == before


def test_bf16_matmul_is_refused_where_it_cannot_work(monkeypatch):
    with pytest.raises(Seq2SeqError, match="bf16_matmul needs a CPU with native bf16"):
        precision.check_precision("bf16_matmul", "cpu")
    with pytest.raises(Seq2SeqError, match="bf16_matmul is for the CPU"):
        precision.check_precision("bf16_matmul", "cuda")
    monkeypatch.setattr(precision, "bf16_matmul_supported", lambda: True)
    precision.check_precision("bf16_matmul", "cpu")


@pytest.mark.skipif(not precision.bf16_matmul_supported(),
                    reason="this CPU has no native bf16 (AMX or AVX512-BF16) for oneDNN")
def test_bf16_matmul_computes_products_in_bf16_on_this_cpu():
    a, b = torch.randn(256, 512), torch.randn(512, 384)
    exact = a.double() @ b.double()
    with precision.autocast("cpu", "bf16_matmul"):
        fast = a @ b
    assert fast.dtype == torch.float32
    error = (fast.double() - exact).abs().max().item()
    assert 1e-3 < error < 2  # bf16 rounding of the inputs (fp32 errs by about 1e-5)


@pytest.mark.parametrize("choice", ["fp32", "bf16", "bf16_matmul"])
def test_explicit_precision_is_obeyed_without_measuring(tmp_path, monkeypatch, choice):
    got, calls = calibrate(tcfg(choice), tmp_path / "p.json", {"fp32": 1.0, "bf16": 2.0},
                           monkeypatch, print)
    assert got == choice and calls == []


def test_bad_precisions_are_one_line(make_cfg):
    from seq2seq.config import check_section

    with pytest.raises(Seq2SeqError, match=r"train.precision=fp8: choose one of \['auto'"):
        check_section(make_cfg("train", ["train.precision=fp8"]).train, "train")
    with pytest.raises(Seq2SeqError, match="fp16 needs a CUDA device"):
        precision.check_precision("fp16", "cpu")


def fake_timing(costs):
    """A step whose time is `costs[precision]` seconds on a fake clock; counts its calls."""
    now, calls = [0.0], {p: 0 for p in costs}

    def step(p):
        now[0] += costs[p]
        calls[p] += 1
        return 10

    return step, (lambda: now[0]), calls


def test_measure_gives_the_median_rate_of_each_precision():
    step, clock, calls = fake_timing({"fp32": 1.0, "bf16": 0.8})
    rates = precision.measure(step, ["fp32", "bf16"], rounds=3, steps=2, clock=clock)
    assert rates == pytest.approx({"fp32": 10.0, "bf16": 12.5})
    assert calls == {"fp32": 8, "bf16": 8}  # one warm-up round and three timed ones, 2 steps each


def test_measure_drops_a_hopeless_precision_after_one_round():
    step, clock, calls = fake_timing({"fp32": 1.0, "bf16": 3.0})  # bf16 three times slower
    rates = precision.measure(step, ["fp32", "bf16"], rounds=3, steps=2, clock=clock)
    assert rates == pytest.approx({"fp32": 10.0, "bf16": 10 / 3})
    assert calls == {"fp32": 8, "bf16": 3}  # warm-up, and one step of the first timed round
    assert precision.choose(rates, 0.05) == "fp32"


def test_measure_drops_an_emulated_precision_after_the_warm_up():
    step, clock, calls = fake_timing({"fp32": 1.0, "bf16": 30.0})  # bf16 emulated: 30x slower
    rates = precision.measure(step, ["fp32", "bf16"], rounds=3, steps=2, clock=clock)
    assert rates == pytest.approx({"fp32": 10.0, "bf16": 1 / 3})
    assert calls == {"fp32": 8, "bf16": 1}  # one step of the warm-up round
    assert precision.choose(rates, 0.05) == "fp32"


CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx2 fma

processor\t: 1
model name\t: another processor
flags\t\t: avx512f avx512_bf16
"""


def test_the_machine_is_named_by_generation_and_instruction_sets():
    """Two generations of "AMD EPYC" (Zen 3 without bf16, Zen 4 with it) must not share a
    cached precision: the name carries family and model, and the key carries the ISA."""
    from seq2seq import machine

    assert machine.cpu_model(CPUINFO) == "AMD EPYC (family 25, model 1)"
    assert machine.cpu_isa(CPUINFO) == ["avx2"]
    assert machine.cpu_model("") and machine.cpu_isa("") == []
    assert machine.cpu_model() in precision.machine_key("cpu", 2)


def test_bf16_matmul_holds_through_the_backward_pass(make_cfg):
    """The gradients' products run in the setting too (autocast's backward follows its forward's
    dtypes by itself; a setting does not)."""
    from seq2seq.bench.phases import _model_and_batches
    from seq2seq.training.loop import TrainingLoss, train_step
    from seq2seq.training.optim import build_optimizer

    cfg = make_cfg("train")
    _, model, data, batches = _model_and_batches(cfg, "cpu")
    seen = []
    weight = model.decoder.rnn.weight_hh_l0
    weight.register_hook(lambda g: seen.append(torch.backends.mkldnn.matmul.fp32_precision))
    before = torch.backends.mkldnn.matmul.fp32_precision
    train_step(TrainingLoss(model, cfg.train.label_smoothing),
               build_optimizer(model.parameters(), cfg.train), [data.collate(batches[0])],
               cfg.train, "bf16_matmul")
    assert seen == ["bf16"]
    assert torch.backends.mkldnn.matmul.fp32_precision == before


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(),
                    reason="oneDNN reports no bf16 at all on this CPU")
def test_emulated_bf16_is_not_native(monkeypatch):
    # oneDNN's check accepts plain AVX-512, where fp32 products stay fp32: ask for the ISA
    monkeypatch.setattr(precision.platform, "machine", lambda: "x86_64")
    for avx512_bf16, amx, native in ((False, False, False), (True, False, True),
                                     (False, True, True)):
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=avx512_bf16: v)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v)
        assert NATIVE_BF16_CHECK() is native
