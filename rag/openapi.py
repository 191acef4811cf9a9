"""The HTTP API described for its users: the OpenAPI 3.1 document served at /openapi.json, and the
page at /docs that shows it, self-contained (no script or style from elsewhere, so it works on a
machine with no network, and a browser showing it contacts nothing outside)."""

from __future__ import annotations

import html
import json

FILTER_PARAMS = {
    "council": "only reports of this council (part of its name)",
    "since": "only meetings on or after this date (YYYY-MM-DD, YYYY-MM or YYYY)",
    "until": "only meetings on or before this date (YYYY-MM-DD, YYYY-MM or YYYY)",
    "source": "only files whose path matches this glob",
    "title": "only reports whose title contains this text",
}

ERROR = {"$ref": "#/components/schemas/Error"}

PASSAGE = {
    "type": "object",
    "description": "A retrieved passage, with where it comes from",
    "properties": {
        "rank": {"type": "integer"},
        "chunk_id": {"type": "string"},
        "doc_id": {"type": "string"},
        "title": {"type": "string"},
        "source": {"type": "string"},
        "council": {"type": ["string", "null"]},
        "date": {"type": ["string", "null"]},
        "page": {"type": ["integer", "null"], "description": "1-based PDF page; null where there are none"},
        "paragraph": {"type": ["string", "null"], "description": "the report's own paragraph number"},
        "heading": {"type": ["string", "null"]},
        "text": {"type": "string"},
        "score": {"type": "number"},
    },
}

CITATION = {
    "type": "object",
    "description": "A numbered source of the answer: `text` is an exact excerpt of an indexed passage",
    "properties": {
        "ref": {"type": "integer", "description": "the [n] in the answer"},
        "doc_id": {"type": "string"},
        "title": {"type": "string"},
        "source": {"type": "string"},
        "page": {"type": ["integer", "null"]},
        "paragraph": {"type": ["string", "null"]},
        "date": {"type": ["string", "null"]},
        "council": {"type": ["string", "null"]},
        "text": {"type": "string"},
        "score": {"type": "number"},
        "passage_rank": {"type": "integer"},
    },
}

ANSWER = {
    "type": "object",
    "description": "Exactly what `rag ask --json` prints",
    "properties": {
        "question": {"type": "string"},
        "rewritten_question": {
            "type": ["string", "null"],
            "description": "the stand-alone question searched for a follow-up",
        },
        "note": {"type": ["string", "null"]},
        "answer": {"type": "string", "description": "the answer, with [n] markers"},
        "status": {"type": "string", "enum": ["answered", "not_found"]},
        "confidence": {"type": "number"},
        "citations": {"type": "array", "items": {"$ref": "#/components/schemas/Citation"}},
        "passages": {"type": "array", "items": {"$ref": "#/components/schemas/Passage"}},
        "timings_ms": {"type": "object", "additionalProperties": {"type": "number"}},
        "candidates": {
            "type": "array",
            "description": "present when there are some: for not_found, the sentences most likely to answer"
            ' ("these passages may answer it"); for an answer, the next two after its own',
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "score": {"type": "number", "description": "the answer model's probability"},
                    "citation": {"$ref": "#/components/schemas/Citation"},
                },
            },
        },
    },
}

ASK_REQUEST = {
    "type": "object",
    "required": ["question"],
    "additionalProperties": False,
    "properties": {
        "question": {"type": "string", "description": "at most max_question_chars (2000) characters"},
        "k": {"type": "integer", "minimum": 1, "maximum": 100, "description": "passages (default top_k, 5)"},
        "filters": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                key: {"type": "string", "description": text} for key, text in FILTER_PARAMS.items()
            },
        },
        "history": {
            "type": "array",
            "description": "earlier turns, oldest first: /ask replies, or {question, sources} objects; "
            "a follow-up ('And in 2021?') is read against the last",
            "items": {"type": "object", "required": ["question"]},
        },
    },
    "example": {
        "question": "How many children were looked after in August 2018?",
        "k": 5,
        "filters": {"council": "Middlesbrough"},
    },
}


def _parameter(name: str, description: str, required: bool = False, kind: str = "string") -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": kind},
    }


def _responses(ok: str, schema: dict, keyed: bool, body: bool = False) -> dict:
    responses = {
        "200": {"description": ok, "content": {"application/json": {"schema": schema}}},
        "400": {"description": "bad input: the message says what to change", "content": _json(ERROR)},
        "404": {"description": "no index where the server's settings point", "content": _json(ERROR)},
        "503": {
            "description": "no index loaded yet (starting, or one that cannot be read now)",
            "content": _json(ERROR),
        },
    }
    if keyed:
        responses["401"] = {"description": "no key, or a wrong one", "content": _json(ERROR)}
    if body:
        responses["413"] = {"description": "the body is larger than 64 kB", "content": _json(ERROR)}
    return responses


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def openapi_document(keyed: bool) -> dict:
    """The OpenAPI document; `keyed`: the server requires a bearer token."""
    filters = [_parameter(name, text) for name, text in FILTER_PARAMS.items()]
    k = _parameter("k", "passages to return (default top_k, 5; at most 100)", kind="integer")
    anything = {"type": "object"}
    paths = {
        "/ask": {
            "post": {
                "summary": "Answer a question, with numbered citations",
                "description": "The reply is exactly the object `rag ask --json` prints.",
                "requestBody": {
                    "required": True,
                    "content": _json({"$ref": "#/components/schemas/AskRequest"}),
                },
                "responses": _responses("the answer", {"$ref": "#/components/schemas/Answer"}, keyed, True),
            }
        },
        "/search": {
            "get": {
                "summary": "The ranked passages for a query",
                "description": "The object `rag search --json` prints: {query, passages, timings_ms}.",
                "parameters": [_parameter("q", "what to look for", True), k, *filters],
                "responses": _responses(
                    "the passages, best first",
                    {
                        "type": "object",
                        "properties": {
                            "query": {"type": "string"},
                            "passages": {"type": "array", "items": {"$ref": "#/components/schemas/Passage"}},
                            "timings_ms": {"type": "object"},
                        },
                    },
                    keyed,
                ),
            }
        },
        "/trend": {
            "get": {
                "summary": "Every stated value of one measure over time, each cited",
                "description": "The object `rag trend --json` prints: the points, and as `candidates` "
                "the sentences that name the measure's words with a figure the reader did not take as "
                'a point (`"found_by": "name"`), then those with a figure in the passages a search for '
                'the measure finds (`"found_by": "search"`); `since` and `until` choose values by the '
                "date they refer to.",
                "parameters": [
                    _parameter("measure", "the measure, e.g. children looked after", True),
                    *[p for p in filters if p["name"] != "title"],
                ],
                "responses": _responses("the points, in period order", anything, keyed),
            }
        },
        "/mentions": {
            "get": {
                "summary": "Every passage that mentions a term, by report and by month",
                "description": "The object `rag mentions --json` prints.",
                "parameters": [
                    _parameter("term", "a word or phrase, e.g. family hub", True),
                    *filters,
                    _parameter(
                        "glossary", "count the glossary's other names too (default true)", kind="boolean"
                    ),
                ],
                "responses": _responses("the mentions", anything, keyed),
            }
        },
        "/info": {
            "get": {
                "summary": "What the index holds",
                "description": "The object `rag info --json` prints.",
                "responses": _responses(
                    "documents, chunks, model, build time, size, skipped files", anything, keyed
                ),
            }
        },
        "/health": {
            "get": {
                "summary": "Whether questions can be answered now (no key needed)",
                "security": [],
                "responses": {
                    "200": {"description": '{"status": "ok", "built_at": ...}', "content": _json(anything)},
                    "404": {"description": "no index", "content": _json(ERROR)},
                    "503": {
                        "description": "loading, or the index cannot be read now",
                        "content": _json(ERROR),
                    },
                },
            }
        },
    }
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "rag: questions over council reports",
            "version": "0.1.0",
            "description": "Every answer cites the passages it rests on. Errors are "
            '{"error": "..."} with a status code. '
            + (
                "Every endpoint but /health, /docs and /openapi.json needs the header "
                "`Authorization: Bearer KEY`."
                if keyed
                else "This server needs no key."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": {
                "AskRequest": ASK_REQUEST,
                "Answer": ANSWER,
                "Citation": CITATION,
                "Passage": PASSAGE,
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string", "description": "what went wrong, and what to do"}
                    },
                },
            },
        },
    }
    if keyed:
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        document["security"] = [{"bearer": []}]
    return document


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }}
h2 {{ border-top: 1px solid #ccc; padding-top: 1rem; font-family: monospace; }}
.method {{ background: #245; color: #fff; padding: 0 .4rem; border-radius: 3px; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ddd; padding: .2rem .5rem; text-align: left; }}
pre {{ background: #f4f4f4; padding: .5rem; overflow-x: auto; }}
</style></head><body>
<h1>{title}</h1>
<p>{description}</p>
<p>The machine-readable description: <a href="/openapi.json">/openapi.json</a> (OpenAPI {version}).</p>
{operations}
<h2>Schemas</h2>
<pre>{schemas}</pre>
</body></html>
"""


def docs_page(document: dict) -> str:
    """The document as one HTML page: each endpoint with its parameters, body and replies."""
    parts = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            parts.append(
                f'<h2 id="{html.escape(method + path)}"><span class="method">{method.upper()}</span> '
                f"{html.escape(path)}</h2>"
            )
            parts.append(f"<p><strong>{html.escape(operation['summary'])}</strong></p>")
            if operation.get("description"):
                parts.append(f"<p>{html.escape(operation['description'])}</p>")
            if operation.get("parameters"):
                rows = "".join(
                    f"<tr><td><code>{html.escape(p['name'])}</code>{' (required)' if p['required'] else ''}"
                    f"</td><td>{html.escape(p['schema']['type'])}</td><td>{html.escape(p['description'])}</td></tr>"
                    for p in operation["parameters"]
                )
                parts.append(f"<table><tr><th>parameter</th><th>type</th><th>meaning</th></tr>{rows}</table>")
            if operation.get("requestBody"):
                example = document["components"]["schemas"]["AskRequest"]["example"]
                parts.append(
                    "<p>Body (JSON, <code>AskRequest</code>), e.g.:</p>"
                    f"<pre>{html.escape(json.dumps(example, indent=2))}</pre>"
                )
            rows = "".join(
                f"<tr><td>{code}</td><td>{html.escape(reply['description'])}</td></tr>"
                for code, reply in sorted(operation["responses"].items())
            )
            parts.append(f"<table><tr><th>status</th><th>reply</th></tr>{rows}</table>")
    return PAGE.format(
        title=html.escape(document["info"]["title"]),
        description=html.escape(document["info"]["description"]),
        version=document["openapi"],
        operations="\n".join(parts),
        schemas=html.escape(json.dumps(document["components"]["schemas"], indent=2)),
    )
