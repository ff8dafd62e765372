"""A stand-in for vLLM's OpenAI-compatible server, used by Streamgate's end-to-end tests.

It runs on the same stack as vLLM (FastAPI on uvicorn), so the gateway meets the same HTTP behaviour:
uvicorn's keep-alive handling, chunked server-sent events and FastAPI's error bodies.

    /usr/bin/python3 -m uvicorn fake_vllm:app --host 127.0.0.1 --port 8000

Every prompt gets the same answer, one word per event; FAKE_VLLM_DELAY sets the pause between words (seconds).
FAKE_VLLM_MODEL names the one model served (default "fake-model"): a request for another model gets vLLM's 404,
and every response names the served model. /metrics publishes the load figures vLLM's Prometheus endpoint has,
with num_requests_running counting the generations in progress.
"""

import asyncio
import json
import os
import time
import uuid

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

MODEL = os.environ.get("FAKE_VLLM_MODEL") or "fake-model"
WORDS = "The quick brown fox jumps over the lazy dog while the gateway relays every token".split()
DELAY = float(os.environ.get("FAKE_VLLM_DELAY", "0.1"))

app = FastAPI()

# Generations in progress; the app runs on one event loop, so a plain counter is enough.
_running = 0


def _json(obj):
    # vLLM writes compact JSON (pydantic's model_dump_json).
    return json.dumps(obj, separators=(",", ":"))


def _chunk(cid, created, model, delta, finish_reason=None):
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def _usage(prompt_tokens, completion_tokens):
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
    }


@app.get("/health")
async def health():
    return Response(status_code=200)


@app.get("/metrics")
async def metrics():
    # The families vLLM's load-aware balancers read, in prometheus_client's text format (version 0.0.4).
    label = '{model_name="' + MODEL.replace("\\", "\\\\").replace('"', '\\"') + '"}'
    lines = []
    for name, help_text, value in (
            ("vllm:num_requests_running", "Number of requests in model execution batches.", _running),
            ("vllm:num_requests_waiting", "Number of requests waiting to be processed.", 0),
            ("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.", 0)):
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name}{label} {float(value)!r}"]
    # Starlette appends "; charset=utf-8", giving prometheus_client's content type.
    return Response(content="\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


def _model_not_found(model):
    # vLLM's answer (OpenAIServing._check_model) to a request that names a model it does not serve.
    return JSONResponse(status_code=404, content={
        "object": "error", "message": f"The model `{model}` does not exist.", "type": "NotFoundError",
        "param": None, "code": 404})


@app.get("/v1/models")
async def models():
    return {
        "object": "list",
        "data": [{"id": MODEL, "object": "model", "created": int(time.time()), "owned_by": "vllm", "root": MODEL,
                  "parent": None, "max_model_len": 4096}],
    }


@app.post("/v1/chat/completions")
async def chat_completions(request: Request):
    raw = await request.body()
    try:
        body = json.loads(raw)
        messages = body["messages"]
        if not isinstance(messages, list):
            raise TypeError("messages must be a list")
    except (ValueError, KeyError, TypeError) as e:
        return JSONResponse(status_code=400, content={
            "error": {"message": f"invalid request: {e}", "type": "BadRequestError", "param": None, "code": 400}})

    requested = body.get("model")
    if requested and requested != MODEL:
        return _model_not_found(requested)
    model = MODEL
    max_tokens = body.get("max_tokens") or len(WORDS)
    words = WORDS[:max_tokens]
    finish_reason = "length" if len(words) < len(WORDS) else "stop"
    prompt_tokens = max(1, len(raw) // 4)
    cid = "chatcmpl-" + uuid.uuid4().hex
    created = int(time.time())

    if not body.get("stream"):
        return {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": " ".join(words)},
                         "logprobs": None, "finish_reason": finish_reason}],
            "usage": _usage(prompt_tokens, len(words)),
        }

    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    async def events():
        global _running
        _running += 1
        try:
            yield "data: " + _json(_chunk(cid, created, model, {"role": "assistant", "content": ""})) + "\n\n"
            for i, word in enumerate(words):
                await asyncio.sleep(DELAY)
                text = word if i == 0 else " " + word
                yield "data: " + _json(_chunk(cid, created, model, {"content": text})) + "\n\n"
            yield "data: " + _json(_chunk(cid, created, model, {}, finish_reason)) + "\n\n"
            if include_usage:
                usage_chunk = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                               "choices": [], "usage": _usage(prompt_tokens, len(words))}
                yield "data: " + _json(usage_chunk) + "\n\n"
            yield "data: [DONE]\n\n"
        finally:
            # Also when the client went away and the stream was cancelled.
            _running -= 1

    return StreamingResponse(events(), media_type="text/event-stream")
