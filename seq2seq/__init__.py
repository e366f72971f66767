"""seq2seq: French-to-English translation with recurrent encoder-decoder models."""

__version__ = "0.1.0"
