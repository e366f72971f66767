"""Where the raw corpora live, how they are fetched from their public homes, and how they are read.

The data root mirrors the layout of the public releases::

    <root>/multi30k/<split>.<lang>.gz     Multi30k Task 1, raw text, one sentence per line
    <root>/tatoeba/fra-eng.txt.gz         Tatoeba pairs, "English<TAB>French" per line
"""

from __future__ import annotations

import gzip
import hashlib
import io
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..atomic import atomic_open
from ..errors import Seq2SeqError


@dataclass(frozen=True)
class CorpusFile:
    """One file of a corpus, with what is known about its content."""

    relpath: str  # path under the data root
    lines: int  # number of lines once decompressed
    sha256: str | None  # of the file as published, where a fixed release is known


# Multi30k, github.com/multi30k/dataset data/task1/raw (commit a3d2e0d).
_M30K = {
    ("train", "en"): (29000, "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f"),
    ("train", "fr"): (29000, "622e75069e9f4c577425c4f277116ce66e63a2401c0a2312d90073cb12379a3c"),
    ("val", "en"): (1014, "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28"),
    ("val", "fr"): (1014, "ca3106f1a72390591d25f6c45cb4cd39dec4cd3f123e099748a3ce5256c160e9"),
    ("test_2016_flickr", "en"): (
        1000, "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9"),
    ("test_2016_flickr", "fr"): (
        1000, "6d326e188d259fb1d04ac19eae3af956559b3a0b93d7635e56c90987c40c8b90"),
    ("test_2017_flickr", "en"): (
        1000, "76a444ee25172e72695cddb13ae4a3bda59430617be88e0bb46b60504f054074"),
    ("test_2017_flickr", "fr"): (
        1000, "3ba671ceb2299f3304ffafefea7a833d08632fbaf0ba18546f8a2ec2391af496"),
    ("test_2017_mscoco", "en"): (
        461, "aab300bfb4427697987e02cd0aacd44bfe8aa50456231b6474c08038bbed2b58"),
    ("test_2017_mscoco", "fr"): (
        461, "754f3072ba9f124569ba5258b32730fc1d214bbf8e0c6dfb2b74401676220db0"),
}
TATOEBA_FILE = "tatoeba/fra-eng.txt.gz"


def multi30k_file(split: str, lang: str) -> CorpusFile:
    lines, sha = _M30K[(split, lang)]
    return CorpusFile(f"multi30k/{split}.{lang}.gz", lines, sha)


# ---------------------------------------------------------------------------------------------
# Fetching


def _download(url: str, what: str) -> bytes:
    """GET `url` with a progress bar; the whole body, or an error naming what failed."""
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            buf = io.BytesIO()
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {what}",
                      leave=False, disable=None) as bar:
                while chunk := resp.read(1 << 16):
                    buf.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as err:
        raise Seq2SeqError(f"cannot download {what} from {url}: HTTP {err.code} {err.reason}")
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise Seq2SeqError(f"cannot download {what} from {url}: {reason}")
    data = buf.getvalue()
    if total is not None and len(data) != total:
        raise Seq2SeqError(
            f"download of {what} from {url} was cut short ({len(data)} of {total} bytes); retry")
    return data


def _count_gzip_lines(data: bytes, what: str) -> int:
    try:
        return gzip.decompress(data).count(b"\n")
    except (OSError, EOFError) as err:
        raise Seq2SeqError(f"{what} is not a complete gzip file ({err}); delete it and retry")


def _verify(data: bytes, spec: CorpusFile, source: str) -> None:
    lines = _count_gzip_lines(data, source)
    if lines != spec.lines:
        raise Seq2SeqError(f"{source} has {lines} lines, expected {spec.lines}; retry the download")
    if spec.sha256 and hashlib.sha256(data).hexdigest() != spec.sha256:
        raise Seq2SeqError(f"{source} does not match the published {spec.relpath} (sha256 differs)")


def ensure_multi30k(root: Path, split: str, lang: str, url_template: str, download: bool) -> Path:
    """Path of a Multi30k file under `root`, downloading and checking it first if it is missing."""
    spec = multi30k_file(split, lang)
    path = root / spec.relpath
    if path.exists():
        return path
    url = url_template.format(split=split, lang=lang)
    if not download:
        raise Seq2SeqError(f"missing corpus file {path}; download it from {url} and put it there")
    data = _download(url, spec.relpath)
    _verify(data, spec, f"download {url}")
    _write_into_root(path, data, url)
    return path


def ensure_tatoeba(root: Path, url: str, download: bool) -> Path:
    """Path of the Tatoeba pairs under `root`; downloaded from the manythings.org zip if missing.

    Newer releases add a third (attribution) column; only the first two columns are kept.
    """
    path = root / TATOEBA_FILE
    if path.exists():
        return path
    if not download:
        raise Seq2SeqError(f"missing corpus file {path}; download {url}, unzip it, and gzip "
                           f"its fra.txt to that path")
    data = _download(url, TATOEBA_FILE)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            name = next((n for n in zf.namelist() if n.endswith("fra.txt")), None)
            if name is None:
                raise Seq2SeqError(f"download {url} holds no fra.txt ({zf.namelist()})")
            text = zf.read(name)
    except zipfile.BadZipFile as err:
        raise Seq2SeqError(f"download {url} is not a complete zip file ({err}); retry")
    lines = [b"\t".join(line.split(b"\t")[:2]) for line in text.splitlines() if line.strip()]
    if not lines or any(line.count(b"\t") != 1 for line in lines):
        raise Seq2SeqError(f"download {url}: fra.txt is not 'English<TAB>French' lines")
    _write_into_root(path, gzip.compress(b"\n".join(lines) + b"\n", mtime=0), url)
    return path


def _write_into_root(path: Path, data: bytes, url: str) -> None:
    try:
        with atomic_open(path) as f:
            f.write(data)
    except OSError as err:
        raise Seq2SeqError(
            f"cannot write {path} ({err.strerror}); download {url} there yourself, "
            f"or point SEQ2SEQ_DATA at a writable folder")


# ---------------------------------------------------------------------------------------------
# Reading


def read_lines(path: Path) -> list[str]:
    """All lines of a (gzipped) UTF-8 text file, without line endings."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise Seq2SeqError(f"missing file {path}")
    except (OSError, EOFError) as err:
        raise Seq2SeqError(f"{path} cannot be read as {'gzip' if opener is gzip.open else 'text'}"
                           f" ({err}); replace it with a complete copy")
    if b"\x00" in raw:
        raise Seq2SeqError(f"{path} looks binary (NUL bytes), not UTF-8 text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise Seq2SeqError(f"{path} is not valid UTF-8 (line {line}); convert it to UTF-8")
    return text.splitlines()


def read_parallel(src_path: Path, tgt_path: Path) -> list[tuple[str, str]]:
    """Sentence pairs from two line-aligned files."""
    src, tgt = read_lines(src_path), read_lines(tgt_path)
    for path, lines in ((src_path, src), (tgt_path, tgt)):
        if not lines:
            raise Seq2SeqError(f"{path} is empty; replace it with the complete corpus file")
    if len(src) != len(tgt):
        raise Seq2SeqError(f"{src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}; "
                           f"parallel files must be line-aligned")
    return list(zip(src, tgt))


def read_tatoeba(path: Path) -> list[tuple[str, str]]:
    """(French, English) pairs from the tab-separated Tatoeba file."""
    pairs = []
    for i, line in enumerate(read_lines(path), 1):
        cols = line.split("\t")
        if len(cols) < 2:
            raise Seq2SeqError(f"{path} line {i} is not 'English<TAB>French'")
        pairs.append((cols[1], cols[0]))
    if not pairs:
        raise Seq2SeqError(f"{path} is empty")
    return pairs
