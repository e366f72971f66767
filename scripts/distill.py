"""`seq2seq-distill` from a clone: see seq2seq/cli/distill.py."""

from seq2seq.cli.distill import main

if __name__ == "__main__":
    main()
