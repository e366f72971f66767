"""`seq2seq-export` from a clone: see seq2seq/cli/export.py."""

from seq2seq.cli.export import main

if __name__ == "__main__":
    main()
