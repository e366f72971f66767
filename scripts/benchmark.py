"""`seq2seq-benchmark` from a clone: see seq2seq/cli/benchmark.py."""

from seq2seq.cli.benchmark import main

if __name__ == "__main__":
    main()
