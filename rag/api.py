"""The HTTP API (`rag api`): questions, searches, trends and mentions as JSON over HTTP, for
scripts and other tools. A Starlette app, served by uvicorn; each reply is the JSON the matching
command prints with --json, and every error is JSON too: {"error": "..."} with a status code
(400 bad input, 401 no or wrong key, 404 no index, 413 body too large, 503 while no index is
loaded), never a traceback.

The open index is a rag.app.serving.CurrentIndex, as in the chat: a rebuild swapped in while the
server runs is picked up, questions already asked finishing on the build they started with. The
work of a request (search, rerank, answer) runs in a worker thread, so requests are answered
side by side."""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from rag.answer.verify import load_verifier
from rag.app.serving import CurrentIndex
from rag.errors import (
    IndexBusyError,
    IndexMismatchError,
    IndexMissingError,
    ModelError,
    NotAnIndexError,
    RagError,
)
from rag.followup import turn_from_json
from rag.mentions import find_mentions
from rag.openapi import docs_page, openapi_document
from rag.qa import ask
from rag.retrieval import check_filters, check_k, check_question, search
from rag.settings import Settings
from rag.trends import trend
from rag.types import FILTER_KEYS, Filters, Turn

MAX_BODY_BYTES = 64 * 1024
"""Largest request body; a larger one is refused with 413 before it is read."""

MAX_K = 100
"""Most passages one request may ask for."""

OPEN_PATHS = ("/health", "/docs", "/openapi.json")
"""Answered without the API key: they tell nothing about the reports."""

ASK_FIELDS = ("question", "k", "filters", "history")

log = logging.getLogger("rag.api")


class ApiError(Exception):
    """A request the API refuses, with its status code and the message the client gets."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


class JsonResponse(Response):
    """JSON as the CLI prints it (UTF-8, not ASCII-escaped)."""

    media_type = "application/json"

    def render(self, content) -> bytes:
        return json.dumps(content, ensure_ascii=False).encode("utf-8")


def status_of(error: RagError) -> int:
    """The HTTP status of a library error: 404 when there is no index where the settings point,
    503 when there is one that cannot be served now (another model or format, damaged, being
    built for the first time), 500 when the model cannot load, 400 for everything the request
    got wrong (an empty or too long question, bad filters, filters that match no report)."""
    if isinstance(error, IndexMissingError | NotAnIndexError):
        return 404
    if isinstance(error, IndexMismatchError | IndexBusyError):
        return 503
    if isinstance(error, ModelError):
        return 500
    return 400


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JsonResponse({"error": message}, status_code=status, headers=headers)


class Service:
    """What every request shares: the settings, the current index, and whether the first
    build and the models have been loaded."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.current = CurrentIndex(settings)
        self.loaded = threading.Event()

    def warm_up(self) -> None:
        """Open the index and load the models (embedder, reranker) once, before the first
        question; until then requests are answered 503. With no index yet, requests say so (404)
        and the first one after `rag index` opens it."""
        try:
            search(self.current.get(), "warm up", self.settings, k=1)
            if self.settings.verifier_model:
                load_verifier(self.settings.verifier_model)
        except RagError as exc:
            log.warning("%s", exc)
        except Exception:  # the requests will say what is wrong; the server keeps going
            log.exception("loading the index and models failed")
        finally:
            self.loaded.set()

    def index(self):
        if not self.loaded.is_set():
            raise ApiError(
                503,
                "the index and models are loading: try again in a few seconds",
                {"Retry-After": "5"},
            )
        return self.current.get()

    def check_key(self, request: Request) -> None:
        """The bearer token, compared in constant time, when the server has a key."""
        key = self.settings.api_key
        if not key or request.url.path in OPEN_PATHS:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
            raise ApiError(
                401,
                "this API needs its key: send the header 'Authorization: Bearer KEY'",
                {"WWW-Authenticate": "Bearer"},
            )


Handler = Callable[[Request, Service], Awaitable[object]]


def endpoint(service: Service, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A route: the key checked, the handler's result as JSON, every failure as a JSON error."""

    async def respond(request: Request) -> Response:
        try:
            service.check_key(request)
            result = await handler(request, service)
        except ApiError as exc:
            return error_response(exc.status, str(exc), exc.headers)
        except RagError as exc:
            return error_response(status_of(exc), str(exc))
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return error_response(500, "internal error: the server's log says what went wrong")
        return result if isinstance(result, Response) else JsonResponse(result)

    return respond


async def read_json(request: Request) -> object:
    """The request's JSON body, refused (413) past MAX_BODY_BYTES, whether or not it says its length."""
    length = request.headers.get("content-length")
    too_large = ApiError(413, f"the request body is larger than {MAX_BODY_BYTES // 1024} kB")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise too_large
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > MAX_BODY_BYTES:
            raise too_large
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the request body is not JSON ({exc})") from None


def ask_request(body: object, settings: Settings) -> tuple[str, int | None, Filters | None, list[Turn]]:
    """question, k, filters and history from a POST /ask body, each checked."""
    if not isinstance(body, dict):
        raise ApiError(400, 'the body must be a JSON object, e.g. {"question": "How many children ..."}')
    unknown = sorted(set(body) - set(ASK_FIELDS))
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}: the body takes {', '.join(ASK_FIELDS)}")
    question = body.get("question")
    if not isinstance(question, str):
        raise ApiError(400, 'the body needs a "question" field, as text')
    history = body.get("history") or []
    if not isinstance(history, list):
        raise ApiError(400, "history must be a list of earlier answers (objects with a question field)")
    turns = []
    for number, item in enumerate(history):
        try:
            turn = turn_from_json(item)
        except (KeyError, TypeError, AttributeError):
            turn = None
        if turn is None or not all(isinstance(text, str) for text in (turn.question, *turn.sources)):
            raise ApiError(
                400, f"history[{number}] is not an earlier answer: an object with a question (text)"
            )
        turns.append(turn)
    filters = body.get("filters")
    if filters is not None and not isinstance(filters, dict):
        raise ApiError(400, f"filters must be an object with keys among {', '.join(FILTER_KEYS)}")
    return check_question(question, settings), passages_asked(body.get("k")), make_filters(filters), turns


def passages_asked(k: object) -> int | None:
    """k as given (None: the top_k setting), 1 to MAX_K."""
    if k is None:
        return None
    if isinstance(k, str):
        try:
            k = int(k)
        except ValueError:
            raise ApiError(400, f"k must be a whole number, not {k!r}") from None
    if isinstance(k, int) and not isinstance(k, bool) and k > MAX_K:
        raise ApiError(400, f"k is {k}: at most {MAX_K} passages a request")
    return k


def make_filters(given: dict | None) -> Filters | None:
    """Filters from an object or query parameters; SettingsError (400) for a bad date or key."""
    values = {}
    for key, value in (given or {}).items():
        if key not in FILTER_KEYS:
            raise ApiError(400, f"unknown filter {key!r}: use {', '.join(FILTER_KEYS)}")
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise ApiError(400, f"filter {key} must be non-empty text")
        values[key] = value.strip()
    return Filters(**values) if values else None


def query(request: Request, required: str, known: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """The required parameter and the others given, refusing a parameter this endpoint does not take."""
    params = dict(request.query_params)
    unknown = sorted(set(params) - {required, *known})
    if unknown:
        raise ApiError(
            400, f"unknown parameter {unknown[0]!r}: {request.url.path} takes {required}, {', '.join(known)}"
        )
    value = params.pop(required, "")
    if not value.strip():
        raise ApiError(400, f"give the {required} parameter, e.g. {request.url.path}?{required}=...")
    return value, params


def filter_params(params: dict[str, str]) -> Filters | None:
    return make_filters({key: params[key] for key in FILTER_KEYS if key in params})


async def ask_route(request: Request, service: Service) -> dict:
    question, k, filters, history = ask_request(await read_json(request), service.settings)
    service.index()  # 503 while loading, before the request waits in the thread pool

    def answer() -> dict:
        index = service.current.get()
        check_k(k, service.settings)
        check_filters(index, filters)
        return ask(index, question, service.settings, k=k, filters=filters, history=history).to_dict()

    return await run_in_threadpool(answer)


async def search_route(request: Request, service: Service) -> dict:
    text, params = query(request, "q", ("k", *FILTER_KEYS))
    text = check_question(text, service.settings)
    k = check_k(passages_asked(params.get("k")), service.settings)
    filters = filter_params(params)
    service.index()

    def run() -> dict:
        index = service.current.get()
        check_filters(index, filters)
        result = search(index, text, service.settings, k=k, filters=filters)
        return {
            "query": text,
            "passages": [p.to_dict() for p in result.passages],
            "timings_ms": result.timings_ms,
        }

    return await run_in_threadpool(run)


async def trend_route(request: Request, service: Service) -> dict:
    measure, params = query(request, "measure", ("council", "since", "until", "source"))
    filters = filter_params(params) or Filters()  # checks the dates
    service.index()

    def run() -> dict:
        index = service.current.get()
        return trend(
            index, measure, filters.council, filters.since, filters.until, filters.source, service.settings
        ).to_dict()

    return await run_in_threadpool(run)


async def mentions_route(request: Request, service: Service) -> dict:
    term, params = query(request, "term", (*FILTER_KEYS, "glossary"))
    glossary = params.pop("glossary", "true").lower()
    if glossary not in ("true", "false", "1", "0"):
        raise ApiError(400, f"glossary must be true or false, not {glossary!r}")
    filters = filter_params(params)
    service.index()

    def run() -> dict:
        index = service.current.get()
        check_filters(index, filters)
        return find_mentions(index, term, filters, use_glossary=glossary in ("true", "1")).to_dict()

    return await run_in_threadpool(run)


async def info_route(request: Request, service: Service) -> dict:
    service.index()
    return await run_in_threadpool(lambda: service.current.get().info())


async def health_route(request: Request, service: Service) -> Response:
    """200 with the build's time when questions can be answered; else the error, with its status."""
    if not service.loaded.is_set():
        return JsonResponse({"status": "loading", "error": "the index and models are loading"}, 503)
    try:
        index = await run_in_threadpool(service.current.get)
    except RagError as exc:
        return JsonResponse({"status": "unavailable", "error": str(exc)}, status_of(exc))
    return JsonResponse({"status": "ok", "built_at": index.manifest["built_at"]})


def create_app(settings: Settings) -> Starlette:
    """The API over the index at settings.index_dir; settings.api_key, when set, is required as
    a bearer token by every endpoint but /health and the docs."""
    service = Service(settings)
    document = openapi_document(keyed=bool(settings.api_key))
    page = docs_page(document)

    async def openapi_route(request: Request, service: Service) -> dict:
        return document

    async def docs_route(request: Request, service: Service) -> Response:
        return HTMLResponse(page)

    routes = [
        Route("/ask", endpoint(service, ask_route), methods=["POST"]),
        Route("/search", endpoint(service, search_route), methods=["GET"]),
        Route("/trend", endpoint(service, trend_route), methods=["GET"]),
        Route("/mentions", endpoint(service, mentions_route), methods=["GET"]),
        Route("/info", endpoint(service, info_route), methods=["GET"]),
        Route("/health", endpoint(service, health_route), methods=["GET"]),
        Route("/openapi.json", endpoint(service, openapi_route), methods=["GET"]),
        Route("/docs", endpoint(service, docs_route), methods=["GET"]),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            message = f"no endpoint {request.url.path}: see /docs for the API"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}: see /docs for the API"
        else:
            message = str(exc.detail)
        return error_response(exc.status_code, message, exc.headers)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        threading.Thread(target=service.warm_up, name="rag-api-warm-up", daemon=True).start()
        yield

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error}, lifespan=lifespan)
    app.state.service = service
    return app
