"""When training stops: a signal (Ctrl-C, SIGTERM), the step, epoch or time budget, or early
stopping — decided alike on every rank."""

from __future__ import annotations

import contextlib
import signal
from dataclasses import dataclass

from .state import Run


class StopFlag:
    """Ctrl-C (SIGINT) or SIGTERM sets a flag that the loop checks between steps; a second
    Ctrl-C stops at once. torchrun passes SIGTERM to its workers when it is interrupted."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.set = False

    def __enter__(self):
        self._previous = {s: signal.getsignal(s) for s in self.SIGNALS}
        with contextlib.suppress(ValueError):  # not in the main thread: leave signals alone
            for s in self.SIGNALS:
                signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.set and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc):
        with contextlib.suppress(ValueError):
            for s, handler in self._previous.items():
                signal.signal(s, handler)


@dataclass
class Clock:
    """What only a rank's own clock and signals know, pooled over every rank (the largest of
    each) in one tiny collective, at check steps only."""

    signalled: bool = False  # Ctrl-C / SIGTERM reached some rank
    out_of_time: bool = False  # some rank's clock has passed max_minutes
    time_progress: float = 0.0  # share of the time budget used, by the furthest clock


def pooled_clock(run: Run, signalled: bool) -> Clock:
    t, elapsed = run.tcfg, run.st.elapsed
    done = elapsed / (60 * t.max_minutes) if t.max_minutes else 0.0
    out_of_time = bool(t.max_minutes) and elapsed >= 60 * t.max_minutes
    pooled = run.dist.max([int(signalled), int(out_of_time), round(done * 1e6)])
    return Clock(bool(pooled[0]), bool(pooled[1]), pooled[2] / 1e6)


def progress(run: Run, time_progress: float) -> float:
    """Share of the training budget used: steps (exact on every rank) or minutes, whichever is
    further."""
    t = run.tcfg
    return max(run.st.step / t.max_steps if t.max_steps else 0.0, time_progress)


def stop_reason(run: Run, clock: Clock, check_now: bool) -> str | None:
    """Why to stop after this step, if at all — the same answer on every rank. Steps and
    validations are alike on all ranks; a signal or the clock are per rank, so they come pooled
    (`clock`) and count at `check_now` steps only."""
    t, st = run.tcfg, run.st
    if t.patience and st.bad_validations >= t.patience:
        return f"no better validation BLEU for {t.patience} validations"
    if t.max_steps and st.step >= t.max_steps:
        return f"reached max_steps={t.max_steps}"
    if not check_now:
        return None
    if clock.signalled:
        return "interrupted"
    return f"reached max_minutes={t.max_minutes}" if clock.out_of_time else None
