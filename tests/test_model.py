import pytest
import torch
from torch import nn

from seq2seq.data.batching import PairDataset, pack
from seq2seq.errors import Seq2SeqError
from seq2seq.model.encoder_decoder import build_model

PRESETS = ["gru_attention", "lstm_attention", "gru_bahdanau", "gru_noattention"]


def model_cfg(make_cfg, preset="gru_attention", extra=()):
    return make_cfg("train", [f"model={preset}", *extra]).model


def toy_batch(seed=0, n=6, vocab=20):
    g = torch.Generator().manual_seed(seed)
    src = [torch.randint(4, vocab, (int(torch.randint(1, 9, (1,), generator=g)),),
                         generator=g).tolist() for _ in range(n)]
    return PairDataset(pack(src), pack([s[::-1] for s in src]), 50).collate(list(range(n)))


@pytest.mark.parametrize("preset", PRESETS)
def test_shapes(make_cfg, preset):
    model = build_model(model_cfg(make_cfg, preset), 20, 30).eval()
    batch = toy_batch()
    feats = model(batch)
    B, T = batch.tgt_in.shape
    assert feats.shape == (B, T, model.decoder.out_dim)
    assert model.decoder.logits(feats).shape == (B, T, 30)
    assert model.loss(batch).ndim == 0


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_padding_does_not_change_encoder_states(make_cfg, cell):
    cfg = model_cfg(make_cfg, extra=[f"model.cell={cell}", "model.encoder.layers=2"])
    model = build_model(cfg, 20, 20).eval()
    x = torch.tensor([[5, 6, 7, 8]])
    out_alone, final_alone = model.encoder(x, torch.tensor([4]))
    padded = torch.tensor([[5, 6, 7, 8, 0, 0, 0], [9, 9, 9, 9, 9, 9, 9]])
    out_pad, final_pad = model.encoder(padded, torch.tensor([4, 7]))
    torch.testing.assert_close(out_pad[0, :4], out_alone[0])
    assert out_pad[0, 4:].abs().max() == 0
    h_alone = final_alone[0] if cell == "lstm" else final_alone
    h_pad = final_pad[0] if cell == "lstm" else final_pad
    torch.testing.assert_close(h_pad[:, 0], h_alone[:, 0])


@pytest.mark.parametrize("layers, bidirectional", [(1, True), (2, True), (2, False)])
def test_gru_by_direction_equals_the_packed_run(make_cfg, layers, bidirectional):
    """The CPU path (a call per layer and direction over the padded batch) gives the packed
    run's outputs, final states and gradients."""
    cfg = model_cfg(make_cfg, extra=[f"model.encoder.layers={layers}", "model.dropout=0.0",
                                     f"model.encoder.bidirectional={bidirectional}"])
    enc = build_model(cfg, 20, 20).encoder.train()
    batch = toy_batch(seed=3, n=7)
    by_direction = enc(batch.src, batch.src_lens)
    shells, enc._shells = enc._shells, None  # the packed run
    packed = enc(batch.src, batch.src_lens)
    enc._shells = shells
    grads = []
    for out, final in (by_direction, packed):
        enc.zero_grad()
        (out.pow(2).sum() + final.pow(2).sum()).backward()
        grads.append([p.grad.clone() for p in enc.parameters()])
    torch.testing.assert_close(by_direction[0], packed[0])
    torch.testing.assert_close(by_direction[1], packed[1])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)
    assert (by_direction[0][batch.src == 0] == 0).all()  # zero at padded positions


def test_int8_quantized_gru_encoder_runs_packed(make_cfg):
    """quantize_dynamic replaces the GRU by a module without `weight_ih_l0`: the encoder runs it
    packed, and stays close to the float model."""
    model = build_model(model_cfg(make_cfg, extra=["model.encoder.layers=2"]), 20, 20).eval()
    batch = toy_batch(seed=5, n=6)
    with torch.no_grad():
        out, final = model.encoder(batch.src, batch.src_lens)
        q = torch.ao.quantization.quantize_dynamic(model, {nn.GRU, nn.Linear}, dtype=torch.qint8)
        assert type(q.encoder.rnn) is not nn.GRU
        q_out, q_final = q.encoder(batch.src, batch.src_lens)
    assert q_out.shape == out.shape and q_final.shape == final.shape
    assert (q_out - out).abs().max() < 0.1
    assert (q_out[batch.src == 0] == 0).all()


def test_attention_gives_padding_zero_weight(make_cfg):
    model = build_model(model_cfg(make_cfg), 20, 20).eval()
    batch = toy_batch()
    state = model.encode(batch.src, batch.src_lens)
    _, _, weights = model.decoder.step(batch.tgt_in[:, :1], state)  # (B, 1, S)
    assert torch.all(weights[~state.mask.unsqueeze(1)] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:2]))


@pytest.mark.parametrize("preset,extra", [
    ("gru_attention", []), ("lstm_attention", []), ("gru_bahdanau", []), ("gru_noattention", []),
    ("gru_attention", ["model.decoder.input_feeding=true"]),
    ("gru_attention", ["model.attention.score=dot", "model.decoder.hidden=64"]),
])
def test_whole_sequence_equals_step_by_step(make_cfg, preset, extra):
    """The training path and the search path compute the same features."""
    model = build_model(model_cfg(make_cfg, preset, extra), 20, 20).eval()
    batch = toy_batch()
    whole = model(batch)
    state = model.encode(batch.src, batch.src_lens)
    steps = []
    for t in range(batch.tgt_in.size(1)):
        f, state, _ = model.decoder.step(batch.tgt_in[:, t: t + 1], state)
        steps.append(f)
    torch.testing.assert_close(whole, torch.cat(steps, 1), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("extra", [
    ["model.encoder.layers=2", "model.decoder.layers=1"],
    ["model.encoder.layers=1", "model.decoder.layers=3"],
    ["model.encoder.bidirectional=false", "model.cell=lstm", "model.decoder.layers=2"],
])
def test_bridge_handles_layouts(make_cfg, extra):
    cfg = model_cfg(make_cfg, extra=extra)
    model = build_model(cfg, 20, 20).eval()
    batch = toy_batch()
    state = model.encode(batch.src, batch.src_lens)
    h = state.hidden[0] if cfg.cell == "lstm" else state.hidden
    assert h.shape == (cfg.decoder.layers, batch.src.size(0), cfg.decoder.hidden)


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_each_design_learns_to_reverse(make_cfg, preset):
    torch.manual_seed(0)
    model = build_model(model_cfg(make_cfg, preset, ["model.dropout=0.0"]), 12, 12)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    batch = toy_batch(n=32, vocab=12)
    first = float(model.loss(batch).detach())
    for step in range(150):
        loss = model.loss(toy_batch(seed=step % 8, n=32, vocab=12))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(model.loss(batch).detach()) < 0.3 * first


@pytest.mark.parametrize("override,message", [
    ("model.cell=rnn", "model.cell=rnn: choose one of"),
    ("model.attention.type=cosine", "model.attention.type=cosine"),
    ("model.attention.score=concat", "model.attention.score=concat"),
    ("model.decoder.hidden=0", "model.decoder.hidden=0: must be a positive integer"),
    ("model.embed_dim=-3", "model.embed_dim=-3"),
    ("model.dropout=1.5", "model.dropout=1.5"),
    ("model.attention.score=dot", "dot attention needs decoder.hidden"),
])
def test_bad_model_configs(make_cfg, override, message):
    cfg = model_cfg(make_cfg, extra=[override, "model.decoder.hidden=48"] if "dot" in override
                    else [override])
    with pytest.raises(Seq2SeqError, match=message.replace("(", r"\(")):
        build_model(cfg, 20, 20)
