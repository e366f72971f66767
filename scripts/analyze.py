"""`seq2seq-analyze` from a clone: see seq2seq/cli/analyze.py."""

from seq2seq.cli.analyze import main

if __name__ == "__main__":
    main()
