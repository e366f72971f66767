"""`seq2seq-average` from a clone: see seq2seq/cli/average.py."""

from seq2seq.cli.average import main

if __name__ == "__main__":
    main()
