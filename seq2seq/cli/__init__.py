"""The commands, one module each: `seq2seq-<verb>` when installed (pyproject's
`[project.scripts]`), `python -m seq2seq.cli.<module>`, or `python scripts/<module>.py` from a
clone. Each parses its arguments and makes one call into the package.

Hydra commands (configs from `conf/`, overrides on the command line): prepare_data, train,
evaluate, analyze. argparse commands (free text, paths): translate, serve, export, average,
report, benchmark.
"""
