"""Training: `loop.py` (`train`: setup, the step, validation, the loop), `state.py` (where a run
stands), `stopping.py` (signals, budgets, early stopping), `checkpoints.py` (best/last/step
checkpoints and resuming), `optim.py` (optimizer and schedules), `ema.py` (the moving average of
the weights), `precision.py` (fp32 or bf16 by measurement) and `distributed.py` (DDP under
torchrun)."""
