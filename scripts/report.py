"""`seq2seq-report` from a clone: see seq2seq/cli/report.py."""

from seq2seq.cli.report import main

if __name__ == "__main__":
    main()
