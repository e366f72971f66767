"""The benchmark behind seq2seq-benchmark: `run.run_benchmark` runs its sections (each
measured phase in a subprocess of its own, see `phases.py` and `commands.py`), `report.markdown`
turns the JSON report into the table the README shows."""
