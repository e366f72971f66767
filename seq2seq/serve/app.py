"""The HTTP API: `POST /translate`, `GET /health`, `GET /info`, the web page at `/`, the
OpenAPI schema at `/openapi.json` (interactive at `/docs`), and LibreTranslate's API under
`/libretranslate` (`libretranslate.py`).

Every limit is checked before any work: body size (413), sentences per request, characters per
sentence, beam size and n-best (422, like malformed JSON and wrong types); a request that waits
longer than the time limit gets 503 while the server goes on serving. Decoding is the same code
as `seq2seq-translate` (`Translator.translations`), batched across requests by `Batcher`.
"""


import asyncio
import contextlib
import json
from pathlib import Path

from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..decoding.alignment import word_alignment
from ..decoding.confidence import sentence_confidence, word_probabilities
from ..decoding.output import pharaoh
from ..decoding.translator import Translator
from ..text.glossary import Glossary
from ..text.langid import warm_up
from ..text.layout import TextDocument, renderings
from .access import Access
from .batcher import Batcher
from .libretranslate import files_folder, libretranslate_router, remove_folder

STATIC = Path(__file__).parent / "static"
MAX_GLOSSARY = 1000  # entries in a request's glossary


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` (declared or streamed) gets 413."""

    def __init__(self, app, max_bytes: int, lt_prefix: str):
        self.app, self.max_bytes, self.lt_prefix = app, max_bytes, lt_prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        field = "error" if scope["path"].startswith(self.lt_prefix + "/") else "detail"
        too_big = JSONResponse({field: f"request body over {self.max_bytes} bytes"}, 413)
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await too_big(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooBig
            return message

        try:
            await self.app(scope, counted, send)
        except _TooBig:
            await too_big(scope, receive, send)


class _TooBig(Exception):
    pass


def request_model(limits: DictConfig, default_beam: int) -> type[BaseModel]:
    """The body of POST /translate, with the server's limits in its schema."""

    class TranslateRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
            {"text": ["Un homme fait du vélo.", "Il pleut."], "beam_size": 5}]})

        text: list[str] = Field(min_length=1, max_length=limits.max_sentences,
                                description="French sentences, one per item")
        beam_size: int = Field(default_beam, ge=1, le=limits.max_beam,
                               description="1 = greedy search")
        n_best: int = Field(1, ge=1, le=limits.max_beam,
                            description="hypotheses per sentence (<= beam_size)")
        attention: bool = Field(False, description="attention weights (one sentence only)")
        split: bool = Field(False, description="each text is a paragraph or document: split "
                                               "into sentences, layout kept")
        alignments: bool = Field(False, description="word alignments, Pharaoh format")
        scores: bool = Field(False, description="confidence and word probabilities")
        glossary: dict[str, str] | None = Field(
            None, description="French term -> English term: where a sentence has the French "
                              "term, its translation contains the English one")

        @model_validator(mode="after")
        def check(self):
            if self.n_best > self.beam_size:
                raise ValueError(f"n_best ({self.n_best}) must be <= beam_size "
                                 f"({self.beam_size})")
            strings = [(f"text[{i}]", x) for i, x in enumerate(self.text)] + \
                [(f"glossary term {k[:40]!r}", x) for k, v in (self.glossary or {}).items()
                 for x in (k, v)]
            for name, x in strings:
                try:
                    x.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValueError(f"{name} is not valid Unicode (a lone surrogate escape)")
            for i, line in enumerate(self.text):
                if len(line) > limits.max_chars:
                    raise ValueError(f"text[{i}] has {len(line)} characters; the limit is "
                                     f"{limits.max_chars}")
            if self.attention and len(self.text) != 1:
                raise ValueError("attention weights are given for one sentence at a time")
            if self.split and (self.alignments or self.scores):
                raise ValueError("alignments and scores are per sentence: not with split")
            if self.glossary is not None:
                if len(self.glossary) > MAX_GLOSSARY:
                    raise ValueError(f"the glossary has {len(self.glossary)} entries; the "
                                     f"limit is {MAX_GLOSSARY}")
                for fr, en in self.glossary.items():
                    if not fr.strip() or not en.strip() or max(len(fr), len(en)) > 200:
                        raise ValueError(f"glossary entry {fr[:40]!r}: terms must be 1-200 "
                                         f"characters")
            return self

    return TranslateRequest


class Hypothesis(BaseModel):
    text: str
    score: float


class Translation(BaseModel):
    text: str = Field(description="the best translation")
    score: float = Field(description="its log-probability (length-normalised in beam search; "
                                     "with split, the mean over the sentences)")
    n_best: list[Hypothesis]
    alignment: str | None = Field(None, description="'source-output' word index pairs")
    confidence: float | None = Field(None, description="mean log-probability per token")
    word_probabilities: list[float] | None = Field(None, description="one per output word")


class Attention(BaseModel):
    source: list[str] = Field(description="source pieces (columns)")
    output: list[str] = Field(description="output pieces (rows), ending with </s>")
    weights: list[list[float]] = Field(description="rows × columns, each row sums to 1")


class TranslateResponse(BaseModel):
    translations: list[Translation]
    attention: Attention | None = None


def create_app(translator: Translator, cfg: DictConfig, info: dict) -> FastAPI:
    """The app for `translator`; `cfg` is conf/serve.yaml (limits, batching), `info` what
    GET /info reports about the model."""
    limits = cfg.limits
    Request_ = request_model(limits, translator.decode.beam_size)
    translators: dict[tuple, Translator] = {}

    def run(key: tuple, lines: list[str]):
        beam, n_best, attention, *glossary = key  # glossary: ((French, English), ...)
        if (beam, n_best) not in translators:
            translators[(beam, n_best)] = translator.with_decode(beam_size=beam, n_best=n_best)
        search = translators[(beam, n_best)]
        if glossary and glossary[0]:
            search = search.with_glossary(Glossary.of(glossary[0]))
        return search.translations(lines, attention=attention)

    batcher = Batcher(run, cfg.batching.wait_ms, cfg.batching.max_sentences)
    access = Access(cfg.access.api_keys, cfg.access.requests_per_minute)
    files = files_folder()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        warm_up()  # the language-id model, before the first request
        yield
        batcher.close()
        remove_folder(files)

    def native_key(authorization: str | None = Header(None, description=(
            "`Bearer KEY` when the server has API keys"))) -> None:
        scheme, _, key = (authorization or "").partition(" ")
        problem = access.key_problem(key if scheme.lower() == "bearer" else "")
        if problem:
            raise HTTPException(403, problem)

    app = FastAPI(title="seq2seq", version="1", summary="French→English translation",
                  description="Translate French sentences to English with a recurrent "
                              "encoder–decoder. Concurrent requests are decoded together.",
                  lifespan=lifespan)
    app.state.batcher = batcher

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc: RequestValidationError) -> Response:
        """FastAPI's 422, with non-ASCII escaped: the input it echoes may hold lone
        surrogates (from JSON escapes), which UTF-8 cannot encode."""
        body = json.dumps({"detail": jsonable_encoder(exc.errors())}, ensure_ascii=True)
        return Response(body, 422, media_type="application/json")
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes,
                       lt_prefix=cfg.libretranslate.prefix)
    app.include_router(libretranslate_router(cfg, translator, batcher, access, files),
                       prefix=cfg.libretranslate.prefix)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/info")
    def model_info() -> dict:
        return {**info, "decoding": OmegaConf.to_container(translator.decode),
                "limits": OmegaConf.to_container(limits)}

    @app.post("/translate", response_model=TranslateResponse,
              responses={413: {"description": "body too large"},
                         503: {"description": "over the time limit; try again"}},
              dependencies=[Depends(native_key)])
    async def translate(req: Request_) -> TranslateResponse:  # type: ignore[valid-type]
        docs = [TextDocument(t) for t in req.text] if req.split else None
        lines = [u for d in docs for u in d.units] if docs else req.text
        one = req.attention and len(lines) == 1  # with split: a paragraph of one sentence
        results = []
        if lines:
            glossary = tuple(sorted(req.glossary.items())) if req.glossary else None
            future = batcher.submit(lines, (req.beam_size, req.n_best,
                                            one or req.alignments, glossary))
            try:
                results = await asyncio.wait_for(asyncio.wrap_future(future), limits.timeout_s)
            except asyncio.TimeoutError:
                future.cancel()
                return JSONResponse({"detail": f"not translated within {limits.timeout_s} s; "
                                               f"the server is busy, try again"}, 503)
        out = _documents(docs, results) if docs else [_one(t, req) for t in results]
        attention = None
        if one and results[0].hypothesis.attention is not None:
            t = results[0]
            pieces = translator.vocab.tgt_pieces(t.hypothesis.tokens) + ["</s>"]
            weights = t.hypothesis.attention[: len(pieces)]
            attention = Attention(source=t.src_pieces, output=pieces[: len(weights)],
                                  weights=[[round(w, 4) for w in row]
                                           for row in weights.tolist()])
        return TranslateResponse(translations=out, attention=attention)

    def _one(t, req) -> Translation:
        pieces = translator.vocab.tgt_pieces(t.hypothesis.tokens) \
            if req.alignments or req.scores else []  # only when asked for: every response
        conf = sentence_confidence(t) if req.scores else None
        return Translation(
            text=t.text, score=t.score,
            n_best=[Hypothesis(text=c.text, score=c.score) for c in t.nbest],
            alignment=pharaoh(word_alignment(t, pieces)) if req.alignments else None,
            confidence=None if conf is None else round(conf, 4),
            word_probabilities=[round(x, 4) for x in word_probabilities(t, pieces)]
            if req.scores else None)

    def _documents(docs: list[TextDocument], results: list) -> list[Translation]:
        """Each document rendered with the k-th hypothesis of each of its sentences."""
        out, start = [], 0
        for d in docs:
            mine, start = results[start:start + len(d.units)], start + len(d.units)
            n = len(mine[0].nbest) if mine else 1
            versions = [Hypothesis(text=text, score=sum(t.nbest[min(k, len(t.nbest) - 1)].score
                                                        for t in mine) / max(len(mine), 1))
                        for k, text in enumerate(renderings(d, mine, n))]
            out.append(Translation(text=versions[0].text, score=versions[0].score,
                                   n_best=versions))
        return out

    return app

