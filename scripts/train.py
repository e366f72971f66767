"""`seq2seq-train` from a clone: see seq2seq/cli/train.py."""

from seq2seq.cli.train import main

if __name__ == "__main__":
    main()
