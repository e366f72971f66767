"""`seq2seq-prepare` from a clone: see seq2seq/cli/prepare_data.py."""

from seq2seq.cli.prepare_data import main

if __name__ == "__main__":
    main()
