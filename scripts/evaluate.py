"""`seq2seq-evaluate` from a clone: see seq2seq/cli/evaluate.py."""

from seq2seq.cli.evaluate import main

if __name__ == "__main__":
    main()
