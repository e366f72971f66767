import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from seq2seq.data.batching import PairDataset, pack
from seq2seq.model.encoder_decoder import build_model
from seq2seq.model.flops import train_flops_per_target_token


def _addmm_flops(self_shape, a_shape, b_shape, out_shape=None, **kwargs) -> int:
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]  # (n, k) @ (k, m)


@pytest.mark.parametrize("extra", [
    [],  # the reference design: biGRU 256, GRU 512, Luong general, 8k vocabulary
    ["model.tie_embeddings=false"],
    ["model.encoder.layers=2", "model.decoder.layers=2"],
    ["model.decoder.input_feeding=true"],
    ["model=gru_bahdanau"],
])
def test_analytic_flops_match_the_counter(make_cfg, extra):
    """GRU variants only: on CPU, LSTM runs in a oneDNN kernel the counter cannot see into."""
    cfg = make_cfg("train", extra, tiny=False).model
    V, B, S, T = 8000, 6, 14, 12
    model = build_model(cfg, V, V)
    g = torch.Generator().manual_seed(0)
    src = torch.randint(4, V, (B, S), generator=g).tolist()
    tgt = torch.randint(4, V, (B, T - 1), generator=g).tolist()  # + EOS = T target tokens
    batch = PairDataset(pack(src), pack(tgt), 100).collate(list(range(B)))
    # the loss accumulates its weight gradient in place (addmm_), which the counter
    # does not know by default
    with FlopCounterMode(display=False,
                         custom_mapping={torch.ops.aten.addmm_: _addmm_flops}) as counter:
        model.loss(batch).backward()
    counted = counter.get_total_flops() / batch.n_tokens
    analytic = train_flops_per_target_token(cfg, V, src_per_tgt=S / T, src_len=S)
    assert analytic == pytest.approx(counted, rel=0.1)
