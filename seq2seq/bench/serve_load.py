"""HTTP load on a real server process on 127.0.0.1 (loopback only; bounded in count and time):
requests/s and p50/p99 latency at 1, 8 and 32 concurrent clients sending one sentence each,
greedy and beam 5 on the native route, greedy on the LibreTranslate route (form bodies, as its
clients send them); every answer checked against the native one-client answer for that sentence
(nothing dropped or reordered); the server's RSS over a long run of requests."""

from __future__ import annotations

import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

from .commands import command


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _load(url: str, sentences: list[str], beam: int, clients: int, requests: int,
          expected: dict[str, str] | None, seconds_limit: float, route: str = "native") -> dict:
    import httpx

    latencies: list[float] = []
    wrong, failed = [0], [0]
    lock = threading.Lock()
    counter = iter(range(requests))
    deadline = time.monotonic() + seconds_limit

    def client() -> None:
        with httpx.Client(timeout=60) as http:
            while time.monotonic() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                s = sentences[i % len(sentences)]
                start = time.perf_counter()
                if route == "native":
                    r = http.post(url + "/translate", json={"text": [s], "beam_size": beam})
                else:  # LibreTranslate's, greedy: the server's default beam is 1 here
                    r = http.post(url + "/libretranslate/translate",
                                  data={"q": s, "source": "fr", "target": "en"})
                took = time.perf_counter() - start
                with lock:
                    latencies.append(took)
                    if r.status_code != 200:
                        failed[0] += 1
                    elif expected is not None and expected[s] != (
                            r.json()["translations"][0]["text"] if route == "native"
                            else r.json()["translatedText"]):
                        wrong[0] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    lat = sorted(latencies)
    return {"clients": clients, "requests": len(lat), "requests_per_s": len(lat) / wall,
            "p50_ms": 1000 * statistics.median(lat),
            "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
            "failed": failed[0], "different": wrong[0]}


def serve_load(checkpoint: str, sentences: list[str], threads: int, quick: bool, log,
               soak_requests: int | None = None) -> dict:
    import httpx

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([*command("serve"), "-c", checkpoint, "--port", str(port),
                             "--beam-size", "1", "--set", f"threads={threads}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("the server did not start")
                time.sleep(0.2)
        out: dict = {"levels": []}
        per_level = 60 if quick else 600
        for beam in (1, 5):
            with httpx.Client(timeout=120) as http:  # the answers one at a time
                expected = {s: http.post(url + "/translate", json={"text": [s], "beam_size":
                                                                    beam}).json()
                            ["translations"][0]["text"] for s in sentences[:per_level]}
            for clients in (1, 8, 32):
                log(f"  beam {beam}, {clients} clients ...")
                r = _load(url, sentences[:per_level], beam, clients, per_level, expected, 120)
                out["levels"].append({"beam": beam, **r})
                if beam == 1:
                    log(f"  LibreTranslate route, greedy, {clients} clients ...")
                    r = _load(url, sentences[:per_level], 1, clients, per_level, expected, 120,
                              route="libretranslate")
                    out.setdefault("libretranslate", []).append({"beam": 1, **r})
        soak = soak_requests if soak_requests is not None else (500 if quick else 100_000)
        if soak:
            log(f"  {soak:,} requests for the RSS ...")
            first = _load(url, sentences, 1, 8, soak // 10, None, 3600)
            early = _rss_mb(proc.pid)
            rest = _load(url, sentences, 1, 8, soak - soak // 10, None, 3600)
            out["soak"] = {"requests": first["requests"] + rest["requests"],
                           "rss_mb_after_10pct": round(early),
                           "rss_mb_after_all": round(_rss_mb(proc.pid)),
                           "failed": first["failed"] + rest["failed"]}
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=30)
