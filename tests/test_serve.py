"""The HTTP API: results in order and equal to translate.py's, concurrent requests batched with
the same outputs, every limit and malformed request answered with its 4xx while the server keeps
serving, a time limit answered with 503, and a real server process on 127.0.0.1."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

NO_EXTRA = 'the serve extra is not installed (pip install -e ".[serve]")'
pytest.importorskip("fastapi", reason=NO_EXTRA)
pytest.importorskip("httpx", reason=NO_EXTRA)

from fastapi.testclient import TestClient  # noqa: E402

from seq2seq.decoding.translator import Translator  # noqa: E402
from seq2seq.serve.app import create_app  # noqa: E402
from seq2seq.serve.batcher import Batcher  # noqa: E402
from seq2seq.serve.run import serve_config  # noqa: E402

from .helpers import ROOT  # noqa: E402

SENTENCES = ["Le chat noir dort .", "La femme rouge mange sur la plage .", "Le garçon saute .",
             "Le chien blanc court dans le jardin ."]


def make_translator(trained, beam=1):
    return Translator.from_checkpoint(trained, beam_size=beam)


@pytest.fixture
def app_and_translator(trained):
    translator = make_translator(trained)
    cfg = serve_config(["limits.max_sentences=50", "limits.max_body_bytes=20000",
                        "limits.max_chars=300"])
    return create_app(translator, cfg, {"checkpoints": [str(trained)]}), translator


@pytest.fixture
def client(app_and_translator):
    with TestClient(app_and_translator[0]) as c:
        yield c


def test_translations_in_order_and_like_translate_py(client, trained):
    r = client.post("/translate", json={"text": SENTENCES, "beam_size": 5, "n_best": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    expected = make_translator(trained, beam=5).with_decode(n_best=2).translations(SENTENCES)
    assert [t["text"] for t in body["translations"]] == [t.text for t in expected]
    for got, want in zip(body["translations"], expected):
        assert [h["text"] for h in got["n_best"]] == [c.text for c in want.nbest]
    assert body["translations"][0]["text"] == "The black cat sleeps ."


def test_attention_for_one_sentence(client):
    r = client.post("/translate", json={"text": ["Le chat noir dort ."], "attention": True})
    att = r.json()["attention"]
    assert att["output"][-1] == "</s>" and len(att["weights"]) == len(att["output"])
    assert all(len(row) == len(att["source"]) for row in att["weights"])
    assert all(abs(sum(row) - 1) < 1e-2 for row in att["weights"])


def test_health_info_and_schema(client):
    assert client.get("/health").json() == {"status": "ok"}
    info = client.get("/info").json()
    assert info["limits"]["max_sentences"] == 50 and info["decoding"]["beam_size"] == 1
    schema = client.get("/openapi.json").json()
    assert "/translate" in schema["paths"]
    assert "<textarea" in client.get("/").text


def test_split_documents_alignments_and_scores(client, trained):
    ref = make_translator(trained)
    doc = f"# {SENTENCES[0]}\n\n{SENTENCES[1]} {SENTENCES[2]}\n- {SENTENCES[3]}\n"
    r = client.post("/translate", json={"text": [doc, "😀 42"], "split": True, "n_best": 1})
    assert r.status_code == 200, r.text
    a, b, c, d = ref.translate(SENTENCES)
    got = [t["text"] for t in r.json()["translations"]]
    assert got == [f"# {a}\n\n{b} {c}\n- {d}\n", "😀 42"]
    r = client.post("/translate", json={"text": SENTENCES, "alignments": True, "scores": True})
    for t in r.json()["translations"]:
        words = len(t["text"].split())
        assert sorted(int(x.split("-")[1]) for x in t["alignment"].split()) == \
            list(range(words))
        assert t["confidence"] <= 0 and len(t["word_probabilities"]) == words
        assert all(0 < p <= 1 for p in t["word_probabilities"])
    plain = client.post("/translate", json={"text": SENTENCES}).json()["translations"][0]
    assert plain["alignment"] is None and plain["confidence"] is None
    r = client.post("/translate", json={"text": SENTENCES[:2], "beam_size": 4,
                                        "glossary": {"chat": "dog", "plage": "garden"}})
    a, b = (t["text"].split() for t in r.json()["translations"])
    assert "dog" in a and "garden" in b


BAD = [
    ("giant body", {"content": b'{"text": ["' + b"a" * 30000 + b'"]}'}, 413),
    ("invalid JSON", {"content": b'{"text": ["x"'}, 422),
    ("not UTF-8", {"content": b'{"text": ["\xff\xfe"]}'}, 400),
    ("wrong type", {"json": {"text": "not a list"}}, 422),
    ("wrong item type", {"json": {"text": [1, 2]}}, 422),
    ("empty list", {"json": {"text": []}}, 422),
    ("too many sentences", {"json": {"text": ["Le chat ."] * 10000}}, 413),
    ("51 sentences", {"json": {"text": ["Le chat ."] * 51}}, 422),
    ("long sentence", {"json": {"text": ["a" * 301]}}, 422),
    ("beam 0", {"json": {"text": ["Le chat ."], "beam_size": 0}}, 422),
    ("beam 1000", {"json": {"text": ["Le chat ."], "beam_size": 1000}}, 422),
    ("n-best over beam", {"json": {"text": ["Le chat ."], "beam_size": 2, "n_best": 3}}, 422),
    ("attention for two", {"json": {"text": ["a", "b"], "attention": True}}, 422),
    ("unknown field", {"json": {"text": ["a"], "temperature": 2}}, 422),
    ("scores with split", {"json": {"text": ["a"], "split": True, "scores": True}}, 422),
    ("lone surrogate", {"content": b'{"text": ["a \\ud800 b"]}'}, 422),
    ("lone surrogate in a glossary", {"content": b'{"text": ["a"], "glossary": {"a": "\\udfff"}}'},
     422),
    ("empty glossary term", {"json": {"text": ["a"], "glossary": {"chat": " "}}}, 422),
    ("glossary not strings", {"json": {"text": ["a"], "glossary": {"chat": 3}}}, 422),
    ("glossary a list", {"json": {"text": ["a"], "glossary": ["chat", "cat"]}}, 422),
]


@pytest.mark.parametrize("name,request_kw,status", BAD, ids=[b[0] for b in BAD])
def test_bad_requests_get_their_4xx_and_the_server_goes_on(client, name, request_kw, status):
    headers = {"Content-Type": "application/json"}
    r = client.post("/translate", headers=headers, **request_kw)
    assert r.status_code == status, r.text
    assert "detail" in r.json()
    ok = client.post("/translate", json={"text": ["Le chat noir dort ."]})
    assert ok.status_code == 200 and ok.json()["translations"][0]["text"]


def test_over_the_time_limit_is_503_and_the_server_goes_on(trained, monkeypatch):
    translator = make_translator(trained)
    real = Translator.translations

    def slow(self, lines, **kw):
        if any("lent" in x for x in lines):
            time.sleep(1.0)
        return real(self, lines, **kw)

    monkeypatch.setattr(Translator, "translations", slow)
    cfg = serve_config(["limits.timeout_s=0.3"])
    with TestClient(create_app(translator, cfg, {})) as client:
        r = client.post("/translate", json={"text": ["Un chat lent ."]})
        assert r.status_code == 503 and "not translated within" in r.json()["detail"]
        time.sleep(1.0)
        ok = client.post("/translate", json={"text": ["Le chat noir dort ."]})
        assert ok.status_code == 200


def test_batcher_decodes_concurrent_jobs_together():
    calls = []

    def run(key, lines):
        calls.append((key, list(lines)))
        time.sleep(0.05)
        return [f"{key[0]}:{x}" for x in lines]

    batcher = Batcher(run, wait_ms=50, max_sentences=100)
    futures = [batcher.submit([f"s{i}", f"t{i}"], (1,)) for i in range(10)]
    futures.append(batcher.submit(["other"], (5,)))
    results = [f.result(timeout=10) for f in futures]
    batcher.close()
    assert results[:10] == [[f"1:s{i}", f"1:t{i}"] for i in range(10)]
    assert results[10] == ["5:other"]
    assert len(calls) <= 3  # 11 requests, at most a few searches
    assert all(len({k for k, _ in calls}) >= 1 for _ in calls)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(trained, script_env):
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "serve.py"), "-c",
                             str(trained), "--port", str(port), "--beam-size", "1"],
                            env=script_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)
    import httpx

    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
    yield url, proc
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)


@pytest.mark.slow
def test_real_server_answers_concurrent_clients_in_order(server, trained):
    import httpx

    url, proc = server
    one_by_one = {s: httpx.post(url + "/translate", json={"text": [s]}).json()
                  ["translations"][0]["text"] for s in SENTENCES}
    results: dict[int, list[str]] = {}

    def client(i):
        texts = [SENTENCES[(i + k) % len(SENTENCES)] for k in range(3)]
        r = httpx.post(url + "/translate", json={"text": texts}, timeout=60)
        results[i] = (texts, [t["text"] for t in r.json()["translations"]])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 16
    for texts, outs in results.values():
        assert outs == [one_by_one[t] for t in texts]
    big = httpx.post(url + "/translate", content=b"x" * 2_000_000,
                     headers={"Content-Type": "application/json"})
    assert big.status_code == 413
    assert httpx.get(url + "/health").status_code == 200
    assert proc.poll() is None


def test_server_binds_to_loopback_by_default():
    cfg = serve_config([])
    assert (cfg.host, cfg.port) == ("127.0.0.1", 8000)
    assert serve_config(["port=9000"], host="0.0.0.0").host == "0.0.0.0"
