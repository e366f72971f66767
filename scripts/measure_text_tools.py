"""Measure the candidate sentence splitters and language-id libraries: see
seq2seq/bench/text_tools.py."""

from seq2seq.bench.text_tools import main

if __name__ == "__main__":
    main()
