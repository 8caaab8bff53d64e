"""The API's request and response bodies (pydantic; they make the OpenAPI page at /docs)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from ..decoding import MAX_BEAM, MAX_RERANK


class RewriteRequest(BaseModel):
    """Sentences to rewrite with one model, in one direction, with one set of decoding options."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"texts": ["the food was cold and the waiter was rude"], "model": "yelp", "to": "positive"}]
        },
    )

    texts: list[str] = Field(
        min_length=1,
        description=(
            "The inputs, natural text, one sentence or a few per item (at least one item; the server "
            "caps items per request and characters per item, see GET /v1/models `limits`). An empty "
            "item gives an empty rewrite."
        ),
    )
    model: str | None = Field(None, description="A model name from GET /v1/models; default: the server's first.")
    to: StrictStr | StrictInt | None = Field(
        None,
        description=(
            "Target style: one of the model's style names (e.g. `positive`), or 0 / 1. null: each text "
            "goes into the style opposite to the one the model detects in it."
        ),
    )
    rerank: int = Field(
        1,
        ge=1,
        le=MAX_RERANK,
        strict=True,
        description=(
            "N > 1: the best of the greedy rewrite and N - 1 samples by the training reward, and the "
            "candidates with their scores in the answer. 1: greedy (or beam) only."
        ),
    )
    beam: int = Field(1, ge=1, le=MAX_BEAM, strict=True, description="Beam size (1: greedy). Not with rerank > 1.")


class Candidate(BaseModel):
    text: str = Field(description="A candidate rewrite (natural text).")
    score: float = Field(description="Its training reward: style probability x reconstruction, higher is better.")


class RewriteResult(BaseModel):
    """One input's rewrite: the fields of `python -m textcycle.rewrite --json`."""

    source: str = Field(description="The input, as sent.")
    detected_style: str | None = Field(
        description="The style the model's discriminator sees in the input (null for an empty input)."
    )
    target_style: str | None = Field(description="The style rewritten into.")
    rewrite: str = Field(description="The rewrite, natural text.")
    style_probability: float | None = Field(
        description="The discriminator's probability that the rewrite is in the target style, 0-1."
    )
    unchanged: bool | None = Field(
        None,
        description="Only present (true) when the model cannot read the input "
        "(another script, mostly unknown words): it comes back as is.",
    )
    reason: str | None = Field(None, description="Why an input came back unchanged (with `unchanged`).")
    candidates: list[Candidate] | None = Field(
        None, description="Only with rerank > 1: the candidates, best first (the first is the rewrite)."
    )


class RewriteResponse(BaseModel):
    model: str = Field(description="The model that rewrote.")
    results: list[RewriteResult] = Field(description="One per input text, in order.")


class ModelInfo(BaseModel):
    name: str = Field(description="The name to use in `model`.")
    style_names: list[str] = Field(description="Style 0 and style 1, the names `to` accepts.")
    language: str = Field(description="en or zh.")
    engine: str = Field(description="The engine that runs it (torch or ctranslate2).")
    default: bool = Field(description="Whether requests without `model` use it.")


class Limits(BaseModel):
    max_texts: int = Field(description="Items of `texts` per request.")
    max_chars: int = Field(description="Characters per item.")
    max_body_bytes: int = Field(description="Bytes per request body.")
    max_queued: int = Field(description="Texts waiting at once on one worker; beyond it, 503 with Retry-After.")
    max_text_cost: int = Field(
        description=(
            "Engine work per text, in units of (1 + UTF-8 bytes // 4) x max(rerank, beam): about its tokens "
            "times the candidates decoded; beyond it, 413."
        )
    )
    max_request_cost: int = Field(description="Engine work per request, the sum over its texts; beyond it, 413.")
    max_queued_cost: int = Field(
        description="Engine work waiting at once on one worker; beyond it, 503 with Retry-After."
    )


class ModelsResponse(BaseModel):
    models: list[ModelInfo]
    limits: Limits


class Health(BaseModel):
    status: Literal["loading", "ready", "failed"] = Field(
        description=(
            "loading: alive, models not loaded yet; ready: serving (the models that loaded; see `failed`); "
            "failed: no model loaded."
        )
    )
    ready: bool
    models: list[str] = Field(description="The models this worker has loaded.")
    failed: dict[str, str] | None = Field(
        None, description="Models that failed to load, each with a short reason (the server's log has the whole error)."
    )
    queued: int = Field(description="Texts waiting in this worker's queue.")
    queued_cost: int = Field(0, description="Their engine work (see GET /v1/models `limits`).")
    batches: int = Field(0, description="Engine calls this worker made so far.")
    batched_texts: int = Field(0, description="Texts in those calls (batched_texts / batches: the mean batch).")
    pid: int = Field(description="The worker process that answered.")
    error: str | None = Field(None, description="Why no model loaded (status failed).")


class Error(BaseModel):
    error: str = Field(description="What went wrong, one line.")
