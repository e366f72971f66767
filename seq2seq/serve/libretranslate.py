"""LibreTranslate's HTTP API, under a prefix (conf/serve.yaml `libretranslate.prefix`, default
/libretranslate): its clients take `http://HOST:PORT/libretranslate/` as the server's URL.

`POST /translate`, `/detect`, `/translate_file`, `/suggest`; `GET /languages`,
`/frontend/settings`, `/download_file/{name}`, `/health`. Bodies are JSON, form-urlencoded or
multipart, as LibreTranslate reads them; answers and errors have its fields and status codes
(`{"error": "..."}`: 400 for what the client sent wrong, 403 for keys, 429 over the rate limit).
Translation goes through the same batcher as the native API; texts are split into sentences
(`seq2seq.text`) and put back with their whitespace, and HTML keeps its markup.
See docs/serving.md for the mapping and what differs from LibreTranslate.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from ..decoding.alignment import word_alignment
from ..text.html import HtmlDocument
from ..text.langid import detect
from ..text.layout import Result, TextDocument, renderings
from .access import Access

LANGUAGES = [{"code": "fr", "name": "French", "targets": ["en"]},
             {"code": "en", "name": "English", "targets": []}]
NAMES = {"fr": "French", "en": "English", "de": "German", "es": "Spanish", "it": "Italian",
         "pt": "Portuguese", "nl": "Dutch"}
FILE_FORMATS = (".txt", ".html", ".htm")
_UNSAFE = re.compile(r"[^\w.-]")
_FILE_NAME = re.compile(r"[0-9a-f]{32}\.[\w.-]{1,100}")


class LTError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)


async def read_params(request: Request) -> dict:
    """The request's fields: query parameters, then the body (JSON object, urlencoded or
    multipart form); a field sent several times in a form is a list."""
    out: dict = dict(request.query_params)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            form = await request.form(max_files=2, max_fields=1000)
        except Exception:  # noqa: BLE001 - Starlette's several parse errors
            raise LTError(400, "Invalid request: the form body cannot be read")
        for key in form.keys():
            values = form.getlist(key)
            out[key] = values if len(values) > 1 else values[0]
        return out
    body = await request.body()
    if not body.strip():
        return out
    if ctype == "application/json" or body.lstrip()[:1] in (b"{", b"["):
        try:
            data = json.loads(body)
        except ValueError:
            raise LTError(400, "Invalid request: the body is not valid JSON")
        except RecursionError:
            raise LTError(400, "Invalid request: the JSON body is nested too deeply")
        if not isinstance(data, dict):
            raise LTError(400, "Invalid request: the body must be a JSON object")
        out.update(data)
        return out
    try:
        out.update(parse_qsl(body.decode("utf-8"), strict_parsing=True))
    except (ValueError, UnicodeDecodeError):
        raise LTError(400, "Invalid request: send the fields as JSON or as a form")
    return out


def _text(value, name: str) -> str:
    if not isinstance(value, str):
        raise LTError(400, f"Invalid request: {name} must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise LTError(400, f"Invalid request: {name} is not valid Unicode (a lone surrogate)")
    return value


def _language(params: dict, name: str, allowed: tuple[str, ...]) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise LTError(400, f"Invalid request: missing {name} parameter")
    code = _text(value, name).strip().lower()
    if code not in allowed:
        raise LTError(400, f"{code[:20]} is not supported ({name}: "
                           f"{' or '.join(allowed)})")
    return code


def _texts(params: dict) -> tuple[list[str], bool]:
    """q as a list, and whether it came as a list."""
    q = params.get("q")
    if q is None or q == "" or q == []:
        raise LTError(400, "Invalid request: missing q parameter")
    if isinstance(q, list):
        return [_text(x, f"q[{i}]") for i, x in enumerate(q)], True
    return [_text(q, "q")], False


def _alternatives(params: dict, most: int) -> int:
    value = params.get("alternatives", 0)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LTError(400, "Invalid request: alternatives must be a number (0 or more)")
    if value > most:
        raise LTError(400, f"Invalid request: alternatives must be at most {most}")
    return value


def _format(params: dict) -> str:
    fmt = params.get("format", "text")
    fmt = _text(fmt, "format").strip().lower() or "text"
    if fmt not in ("text", "html"):
        raise LTError(400, f"{fmt[:20]} format is not supported (text or html)")
    return fmt


def libretranslate_router(cfg, translator, batcher, access: Access, files: Path) -> APIRouter:
    """The routes; `cfg` is conf/serve.yaml, `files` a folder for /translate_file's results."""
    lt, limits = cfg.libretranslate, cfg.limits
    beam_default = translator.decode.beam_size
    router = APIRouter(tags=["LibreTranslate"])

    def guard(request: Request, params: dict) -> None:
        key = params.get("api_key")
        problem = access.key_problem(key)
        if problem:
            raise LTError(403, problem)
        client = request.client.host if request.client else "unknown"
        over = access.over_limit(key, client)
        if over:
            raise LTError(429, over)

    async def translate_documents(docs: list, alternatives: int, html: bool) -> list[list]:
        """For each document, its rendering with the best translations, then one per
        alternative (other hypotheses of the n-best list; duplicates left out)."""
        lines = [u for d in docs for u in d.units]
        for d in docs:
            for u in d.units:
                if len(u) > limits.max_chars:
                    raise LTError(400, f"Invalid request: a sentence of {len(u)} characters; "
                                       f"the limit is {limits.max_chars}")
        results = []
        if lines:
            n_best = alternatives + 1
            key = (max(beam_default, n_best), n_best, html)
            future = batcher.submit(lines, key)
            try:
                results = await asyncio.wait_for(asyncio.wrap_future(future), limits.timeout_s)
            except asyncio.TimeoutError:
                future.cancel()
                raise LTError(503, f"Not translated within {limits.timeout_s} s; the server is "
                                   f"busy, try again")
        out, start = [], 0
        for d in docs:
            mine = results[start:start + len(d.units)]
            start += len(d.units)
            best = [Result(t.text, word_alignment(t, translator.vocab.tgt_pieces(
                t.hypothesis.tokens)) if html else None) for t in mine]
            versions = renderings(d, mine, alternatives + 1, best)
            out.append([v for k, v in enumerate(versions) if v not in versions[:k]])
        return out

    def detected(texts: list[str], docs: list) -> list[dict]:
        """source=auto: the language of each text; English comes back as it is, other
        languages are refused by name."""
        out = []
        for i, (text, d) in enumerate(zip(texts, docs)):
            guess = detect(" ".join(d.units) or text, k=1)[0]
            if d.units and guess.language not in ("fr", "en"):
                name = NAMES.get(guess.language, guess.language)
                raise LTError(400, f"{guess.language} is not supported: the text"
                                   f"{f' of q[{i}]' if len(texts) > 1 else ''} looks {name} "
                                   f"({guess.confidence:.0f} %); this server translates French "
                                   f"(send source=fr to translate it anyway)")
            out.append({"confidence": guess.confidence, "language": guess.language})
        return out

    async def answer(request: Request, handler) -> JSONResponse:
        try:
            return await handler(await read_params(request))
        except LTError as err:
            return _error(err.status, err.message)

    @router.post("/translate", summary="Translate text or HTML (LibreTranslate's API)")
    async def translate(request: Request):
        async def run(params):
            guard(request, params)
            texts, as_list = _texts(params)
            source = _language(params, "source", ("fr", "auto"))
            _language(params, "target", ("en",))
            fmt, alternatives = _format(params), _alternatives(params, lt.max_alternatives)
            total = sum(map(len, texts))
            if total > lt.char_limit:
                raise LTError(400, f"Invalid request: Request ({total}) exceeds text limit "
                                   f"({lt.char_limit})")
            docs = [HtmlDocument(t) if fmt == "html" else TextDocument(t) for t in texts]
            languages = detected(texts, docs) if source == "auto" else None
            todo = [d if not languages or lang["language"] == "fr" else TextDocument("")
                    for d, lang in zip(docs, languages or [{}] * len(docs))]
            versions = await translate_documents(todo, alternatives, fmt == "html")
            versions = [v if d.units else [t] for v, d, t in zip(versions, todo, texts)]
            body: dict = {"translatedText": [v[0] for v in versions]}
            if alternatives:
                body["alternatives"] = [v[1:] for v in versions]
            if languages is not None:
                body["detectedLanguage"] = languages
            if not as_list:
                body = {k: v[0] for k, v in body.items()}
            return JSONResponse(body)
        return await answer(request, run)

    @router.post("/detect", summary="Detect the language of a text")
    async def detect_language(request: Request):
        async def run(params):
            guard(request, params)
            texts, _ = _texts(params)
            return JSONResponse([{"confidence": g.confidence, "language": g.language}
                                 for g in detect(" ".join(texts), k=3) if g.confidence > 0])
        return await answer(request, run)

    @router.get("/languages", summary="Languages and their targets")
    def languages():
        return LANGUAGES

    @router.get("/frontend/settings", summary="Settings for LibreTranslate's web page")
    def settings():
        return {"charLimit": lt.char_limit, "frontendTimeout": 500,
                "apiKeys": access.keys is not None, "keyRequired": access.keys is not None,
                "suggestions": False, "filesTranslation": True,
                "supportedFilesFormat": list(FILE_FORMATS),
                "language": {"source": {"code": "fr", "name": "French"},
                             "target": {"code": "en", "name": "English"}}}

    @router.get("/health", summary="The server is up")
    def health():
        return {"status": "ok"}

    @router.post("/suggest", summary="Not offered: suggestions are off")
    async def suggest():
        return _error(403, "Suggestions are disabled on this server.")

    @router.post("/translate_file", summary="Translate a .txt or .html file")
    async def translate_file(request: Request):
        async def run(params):
            guard(request, params)
            upload = params.get("file")
            if upload is None or isinstance(upload, (str, list)):
                raise LTError(400, "Invalid request: missing file parameter (a multipart "
                                   "upload)")
            source = _language(params, "source", ("fr", "auto"))
            _language(params, "target", ("en",))
            name = Path(upload.filename or "file.txt").name
            suffix = Path(name).suffix.lower()
            if suffix not in FILE_FORMATS:
                raise LTError(400, f"Invalid request: {suffix or 'files without an extension'}"
                                   f" files are not supported ({', '.join(FILE_FORMATS)})")
            try:
                text = (await upload.read()).decode("utf-8-sig")
            except UnicodeDecodeError:
                raise LTError(400, "Invalid request: the file is not UTF-8 text")
            if len(text) > lt.char_limit:
                raise LTError(400, f"Invalid request: Request ({len(text)}) exceeds text limit "
                                   f"({lt.char_limit})")
            doc = HtmlDocument(text) if suffix in (".html", ".htm") else TextDocument(text)
            english = source == "auto" and detected([text], [doc])[0]["language"] == "en"
            out = text if english or not doc.units else \
                (await translate_documents([doc], 0, suffix != ".txt"))[0][0]
            stored = f"{uuid.uuid4().hex}.{_UNSAFE.sub('_', name)[:100]}"
            (files / stored).write_text(out, encoding="utf-8")
            kept = sorted(files.iterdir(), key=lambda p: p.stat().st_mtime)
            for old in kept[: max(0, len(kept) - lt.files_kept)]:
                old.unlink(missing_ok=True)
            url = request.url_for("lt_download_file", name=stored)
            return JSONResponse({"translatedFileUrl": str(url)})
        return await answer(request, run)

    @router.get("/download_file/{name}", name="lt_download_file",
                summary="A file translated by /translate_file")
    def download_file(name: str):
        path = files / name
        if not _FILE_NAME.fullmatch(name) or not path.is_file():
            return _error(404, "Invalid request: no such file (translated files are kept for "
                               f"the last {lt.files_kept} uploads)")
        return FileResponse(path, filename=name.split(".", 1)[1])

    return router


def files_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="seq2seq-files-"))


def remove_folder(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
