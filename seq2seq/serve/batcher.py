"""Server-side batching: sentences of concurrent requests are decoded in one search.

Requests put jobs on a queue; one worker thread takes the first job, waits up to `wait_ms` for
more jobs with the same decoding settings (or until `max_sentences` are gathered), runs one
search for all of them, and hands each job its own results. Throughput therefore grows with the
number of clients instead of each request paying for a search of its own. A job whose caller
gave up (time limit) before the search started is skipped.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field


@dataclass
class Job:
    lines: list[str]
    key: tuple  # decoding settings; only jobs with equal keys share a search
    future: Future = field(default_factory=Future)


class Batcher:
    def __init__(self, run, wait_ms: float, max_sentences: int):
        """`run(key, lines) -> results` decodes `lines` with the settings `key`, in order."""
        self.run, self.wait, self.max_sentences = run, wait_ms / 1000, max_sentences
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.held: list[Job] = []  # taken from the queue, waiting for a search with their key
        self.searches = 0  # searches run so far (for tests and /info)
        self.thread = threading.Thread(target=self._loop, name="batcher", daemon=True)
        self.thread.start()

    def submit(self, lines: list[str], key: tuple) -> Future:
        job = Job(list(lines), key)
        self.jobs.put(job)
        return job.future

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join(timeout=10)

    def _next(self, timeout: float | None) -> Job | None:
        if self.held:
            return self.held.pop(0)
        try:
            return self.jobs.get(timeout=timeout)
        except queue.Empty:
            return None

    def _gather(self, first: Job) -> list[Job]:
        batch, size = [first], len(first.lines)
        deadline = time.monotonic() + self.wait
        while size < self.max_sentences:
            left = deadline - time.monotonic()
            try:
                job = self.jobs.get(timeout=max(left, 0)) if left > 0 else self.jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self.jobs.put(None)
                break
            if job.key != first.key or size + len(job.lines) > self.max_sentences:
                self.held.append(job)
                if job.key == first.key:
                    break
                continue
            batch.append(job)
            size += len(job.lines)
        return batch

    def _loop(self) -> None:
        while True:
            first = self._next(timeout=None)
            if first is None:
                return
            jobs = [j for j in self._gather(first) if j.future.set_running_or_notify_cancel()]
            if not jobs:
                continue
            try:
                results = self.run(first.key, [line for j in jobs for line in j.lines])
                self.searches += 1
            except BaseException as err:  # noqa: BLE001 - every waiting caller must hear of it
                for j in jobs:
                    j.future.set_exception(err)
                continue
            start = 0
            for j in jobs:
                j.future.set_result(results[start: start + len(j.lines)])
                start += len(j.lines)
