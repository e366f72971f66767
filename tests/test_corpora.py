"""Fetching against a loopback HTTP server, and reading bad corpus files."""

from __future__ import annotations

import gzip
import http.server
import threading
from pathlib import Path

import pytest

from seq2seq.data import corpora
from seq2seq.errors import Seq2SeqError

URL = "http://127.0.0.1:{port}/raw/{{split}}.{{lang}}.gz"


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    lie_about_length: set[str] = set()

    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        claimed = len(body) + (1000 if self.path in self.lie_about_length else 0)
        self.send_header("Content-Length", str(claimed))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Handler.files, _Handler.lie_about_length = {}, set()
    yield _Handler, URL.format(port=httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


def fake_release(monkeypatch, lines: int) -> bytes:
    """A stand-in for the published val.fr.gz, registered with its size and sha256."""
    data = gzip.compress("".join(f"phrase {i}\n" for i in range(lines)).encode(), mtime=0)
    import hashlib

    monkeypatch.setitem(corpora._M30K, ("val", "fr"), (lines, hashlib.sha256(data).hexdigest()))
    return data


def test_download_writes_the_checked_file(server, tmp_path, monkeypatch):
    handler, url = server
    handler.files["/raw/val.fr.gz"] = fake_release(monkeypatch, 50)
    path = corpora.ensure_multi30k(tmp_path, "val", "fr", url, download=True)
    assert path == tmp_path / "multi30k" / "val.fr.gz"
    assert len(corpora.read_lines(path)) == 50
    assert list((tmp_path / "multi30k").iterdir()) == [path]  # no temporary files left


def test_http_404_is_one_clear_error(server, tmp_path, monkeypatch):
    _, url = server
    with pytest.raises(Seq2SeqError, match=r"cannot download multi30k/val.fr.gz .*HTTP 404"):
        corpora.ensure_multi30k(tmp_path, "val", "fr", url, download=True)
    assert not (tmp_path / "multi30k" / "val.fr.gz").exists()


def test_connection_cut_short_is_detected(server, tmp_path, monkeypatch):
    handler, url = server
    handler.files["/raw/val.fr.gz"] = fake_release(monkeypatch, 50)
    handler.lie_about_length.add("/raw/val.fr.gz")
    with pytest.raises(Seq2SeqError, match="cut short"):
        corpora.ensure_multi30k(tmp_path, "val", "fr", url, download=True)
    assert not (tmp_path / "multi30k").exists() or not any((tmp_path / "multi30k").iterdir())


def test_truncated_file_is_refused(server, tmp_path, monkeypatch):
    handler, url = server
    handler.files["/raw/val.fr.gz"] = fake_release(monkeypatch, 5000)[:-300]
    with pytest.raises(Seq2SeqError, match="not a complete gzip file"):
        corpora.ensure_multi30k(tmp_path, "val", "fr", url, download=True)
    assert not (tmp_path / "multi30k" / "val.fr.gz").exists()


def test_wrong_content_is_refused(server, tmp_path, monkeypatch):
    handler, url = server
    fake_release(monkeypatch, 50)
    handler.files["/raw/val.fr.gz"] = gzip.compress(b"other\n" * 50)
    with pytest.raises(Seq2SeqError, match="sha256 differs"):
        corpora.ensure_multi30k(tmp_path, "val", "fr", url, download=True)


def test_offline_names_the_missing_file(tmp_path):
    with pytest.raises(Seq2SeqError, match=r"missing corpus file .*val.fr.gz; download it from"):
        corpora.ensure_multi30k(tmp_path, "val", "fr", "https://x/{split}.{lang}.gz", False)


def test_tatoeba_zip_download_keeps_two_columns(server, tmp_path):
    import io
    import zipfile

    handler, url = server
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("fra.txt", "Go.\tVa !\tCC-BY 2.0 (France)\nHi.\tSalut !\tCC-BY\n")
    handler.files["/fra-eng.zip"] = buf.getvalue()
    path = corpora.ensure_tatoeba(tmp_path, url.replace("raw/{split}.{lang}.gz", "fra-eng.zip"),
                                  download=True)
    assert corpora.read_tatoeba(path) == [("Va !", "Go."), ("Salut !", "Hi.")]


# Reading ----------------------------------------------------------------------------------


def test_mismatched_line_counts(tmp_path: Path):
    (tmp_path / "a.fr").write_text("un\ndeux\n")
    (tmp_path / "a.en").write_text("one\n")
    with pytest.raises(Seq2SeqError, match=r"a.fr has 2 lines but .*a.en has 1"):
        corpora.read_parallel(tmp_path / "a.fr", tmp_path / "a.en")


def test_non_utf8_names_file_and_line(tmp_path: Path):
    (tmp_path / "a.fr").write_bytes("ligne\ncaf\u00e9\n".encode("latin-1"))
    with pytest.raises(Seq2SeqError, match=r"a.fr is not valid UTF-8 \(line 2\)"):
        corpora.read_lines(tmp_path / "a.fr")


def test_binary_file(tmp_path: Path):
    (tmp_path / "a.fr").write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(Seq2SeqError, match="looks binary"):
        corpora.read_lines(tmp_path / "a.fr")


def test_missing_file(tmp_path: Path):
    with pytest.raises(Seq2SeqError, match="missing file"):
        corpora.read_lines(tmp_path / "nope.gz")


def test_truncated_gzip_on_disk(tmp_path: Path):
    data = gzip.compress(b"une ligne\n" * 5000)
    (tmp_path / "a.fr.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(Seq2SeqError, match=r"a.fr.gz cannot be read as gzip"):
        corpora.read_lines(tmp_path / "a.fr.gz")


def test_empty_tatoeba(tmp_path: Path):
    (tmp_path / "t.txt.gz").write_bytes(gzip.compress(b""))
    with pytest.raises(Seq2SeqError, match="is empty"):
        corpora.read_tatoeba(tmp_path / "t.txt.gz")
