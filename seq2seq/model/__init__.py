"""The network: `encoder.py` (embeddings and a (bi)directional GRU/LSTM), `attention.py` (Luong,
Bahdanau), `decoder.py`, `encoder_decoder.py` (`Seq2Seq`, `build_model`), `loss.py` (the output
projection fused with cross-entropy) and `flops.py` (the analytic FLOP count)."""
