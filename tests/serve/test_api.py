"""The HTTP API in-process (FastAPI's TestClient), with the real Rewriter over a fake engine:
the answers, the caps, and every kind of bad input answered as one JSON line."""

from __future__ import annotations

import json
import os
import threading

import pytest

from textcycle.errors import TextcycleError
from textcycle.serve.app import create_app
from textcycle.serve.settings import Settings

from .conftest import TestClient, fake_rewriter, wait_ready

RESULT_KEYS = {"source", "detected_style", "target_style", "rewrite", "style_probability"}


def assert_json_error(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in body["error"] and "\n" not in body["error"]
    return body["error"]


def test_health_and_models(client):
    h = client.get("/healthz").json()
    assert h["status"] == "ready" and h["ready"] is True and h["models"] == ["yelp"] and h["queued"] == 0
    assert h["pid"] == os.getpid()
    assert client.get("/healthz?ready=true").status_code == 200
    m = client.get("/v1/models").json()
    assert m["models"] == [
        {"name": "yelp", "style_names": ["negative", "positive"], "language": "en", "engine": "fake", "default": True}
    ]
    assert m["limits"] == {
        "max_texts": 256,
        "max_chars": 2000,
        "max_body_bytes": 1_000_000,
        "max_queued": 4096,
        "max_text_cost": 8192,
        "max_request_cost": 32768,
        "max_queued_cost": 65536,
    }


def test_rewrite_answers_like_rewrite_json(client):
    texts = ["the food was cold", "great pizza , friendly staff", "the waiter was rude"]
    r = client.post("/v1/rewrite", json={"texts": texts})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "yelp" and [x["source"] for x in body["results"]] == texts
    for x in body["results"]:
        assert set(x) == RESULT_KEYS and 0 <= x["style_probability"] <= 1
    assert [x["detected_style"] for x in body["results"]] == ["negative", "positive", "negative"]
    assert [x["target_style"] for x in body["results"]] == ["positive", "negative", "positive"]
    assert body["results"][0]["rewrite"] == "The food was cold"  # the fake engine copies
    for to in ("positive", 1, "1"):
        r = client.post("/v1/rewrite", json={"texts": texts, "to": to, "model": "yelp"})
        assert {x["target_style"] for x in r.json()["results"]} == {"positive"}, to


def test_rerank_gives_scored_candidates_best_first(client):
    r = client.post("/v1/rewrite", json={"texts": ["the food was cold and bland", ""], "rerank": 3})
    assert r.status_code == 200, r.text
    first, empty = r.json()["results"]
    cands = first["candidates"]
    assert 1 <= len(cands) <= 3 and all(set(c) == {"text", "score"} for c in cands)
    assert [c["score"] for c in cands] == sorted((c["score"] for c in cands), reverse=True)
    assert cands[0]["text"] == first["rewrite"] and len({c["text"] for c in cands}) == len(cands)
    assert empty["rewrite"] == "" and empty["detected_style"] is None and empty["candidates"] == []
    # rerank 1: no candidates field at all
    assert "candidates" not in client.post("/v1/rewrite", json={"texts": ["x"]}).json()["results"][0]


def test_empty_and_unreadable_items(client):
    res = client.post("/v1/rewrite", json={"texts": ["", "   ", "这家店的服务很差"]}).json()["results"]
    assert [x["rewrite"] for x in res] == ["", "", "这家店的服务很差"]
    assert res[0]["style_probability"] is None
    assert res[2]["unchanged"] is True and res[2]["reason"]


def test_full_width_and_emoji_texts_round_trip(client):
    texts = ["ＦＵＬＬ　ｗｉｄｔｈ！", "pizza 🍕 was bad", "line\u2028sep", "tab\there"]
    r = client.post("/v1/rewrite", json={"texts": texts})
    assert r.status_code == 200, r.text
    assert [x["source"] for x in r.json()["results"]] == texts


BAD = [
    # (name, request kwargs, status, a word of the message)
    ("malformed JSON", dict(content=b'{"texts": ["a",}', headers={"content-type": "application/json"}), 400, "JSON"),
    (
        "invalid UTF-8",
        dict(content=b'{"texts": ["\xff\xfe"]}', headers={"content-type": "application/json"}),
        400,
        "UTF-8",
    ),
    ("not JSON", dict(content=b"texts=a", headers={"content-type": "application/x-www-form-urlencoded"}), 415, "JSON"),
    ("no body", dict(content=b"", headers={"content-type": "application/json"}), 422, "required"),
    ("a JSON array", dict(json=["a"]), 422, "object"),
    ("empty list", dict(json={"texts": []}), 422, "at least 1"),
    ("texts a string", dict(json={"texts": "the food"}), 422, "texts"),
    ("a number in texts", dict(json={"texts": ["ok", 3]}), 422, "texts[1]"),
    ("null in texts", dict(json={"texts": [None]}), 422, "texts[0]"),
    ("unknown field", dict(json={"texts": ["a"], "reranks": 4}), 422, "reranks"),
    ("unknown model", dict(json={"texts": ["a"], "model": "nope"}), 422, "unknown model"),
    ("unknown style", dict(json={"texts": ["a"], "to": "happy"}), 422, "unknown style"),
    ("style index 5", dict(json={"texts": ["a"], "to": 5}), 422, "unknown style"),
    ("style a bool", dict(json={"texts": ["a"], "to": True}), 422, "to"),
    ("rerank a string", dict(json={"texts": ["a"], "rerank": "4"}), 422, "rerank"),
    ("rerank 0", dict(json={"texts": ["a"], "rerank": 0}), 422, "rerank"),
    ("rerank 1000", dict(json={"texts": ["a"], "rerank": 1000}), 422, "rerank"),
    ("beam 99", dict(json={"texts": ["a"], "beam": 99}), 422, "beam"),
    ("beam and rerank", dict(json={"texts": ["a"], "beam": 2, "rerank": 2}), 422, "do not combine"),
    (
        "lone surrogate",
        dict(content=b'{"texts": ["\\ud800"]}', headers={"content-type": "application/json"}),
        422,
        "surrogate",
    ),
    ("too many texts", dict(json={"texts": ["a"] * 257}), 422, "too many texts"),
    ("a text too long", dict(json={"texts": ["ok", "a" * 2001]}), 422, "texts[1] is 2001 characters"),
    ("body over the cap", dict(json={"texts": ["a" * 1000] * 1001}), 413, "bytes"),
]


@pytest.mark.parametrize("name,kwargs,status,word", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_json_error(client, name, kwargs, status, word):
    msg = assert_json_error(client.post("/v1/rewrite", **kwargs), status)
    assert word.lower() in msg.lower(), msg
    # the worker is still fine afterwards
    assert client.post("/v1/rewrite", json={"texts": ["the food was cold"]}).status_code == 200


def test_body_cap_also_holds_without_content_length(make_client):
    client, rw = make_client(max_body_bytes=1000)

    def chunks():  # a generator body goes out chunked, with no Content-Length
        yield b'{"texts": ["'
        for _ in range(20):
            yield b"a" * 100
        yield b'"]}'

    msg = assert_json_error(
        client.post("/v1/rewrite", content=chunks(), headers={"content-type": "application/json"}), 413
    )
    assert "1000" in msg and rw.calls == []


def test_caps_are_options(make_client):
    client, _ = make_client(max_texts=2, max_chars=10)
    assert "at most 2" in assert_json_error(client.post("/v1/rewrite", json={"texts": ["a"] * 3}), 422)
    assert "at most 10" in assert_json_error(client.post("/v1/rewrite", json={"texts": ["a" * 11]}), 422)
    assert client.post("/v1/rewrite", json={"texts": ["a" * 10, "b"]}).status_code == 200
    assert client.get("/v1/models").json()["limits"]["max_texts"] == 2


def test_other_routes_answer_json(client):
    assert "Not Found" in assert_json_error(client.get("/nope"), 404)
    assert_json_error(client.get("/v1/rewrite"), 405)
    assert_json_error(client.put("/v1/models"), 405)


def test_page_and_static_files(client):
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert '<script src="/static/app.js"' in r.text and "http" not in r.text.split("<body>")[0]
    for f, kind in (("app.js", "javascript"), ("style.css", "css")):
        r = client.get(f"/static/{f}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
        assert "://" not in r.text  # nothing from a CDN: the page works offline


def test_openapi_documents_the_api(client):
    spec = client.get("/openapi.json").json()
    assert {"/v1/rewrite", "/v1/models", "/healthz"} <= set(spec["paths"])
    req = spec["components"]["schemas"]["RewriteRequest"]["properties"]
    assert {"texts", "model", "to", "rerank", "beam"} == set(req)
    assert all(p.get("description") for p in req.values())
    assert "422" in spec["paths"]["/v1/rewrite"]["post"]["responses"]


def test_not_ready_yet_is_503_with_retry_after():
    release = threading.Event()
    rw = fake_rewriter()

    def slow_load(where):
        release.wait(20)
        return rw

    with TestClient(create_app(Settings(), load=slow_load)) as client:
        h = client.get("/healthz")
        assert h.status_code == 200 and h.json()["status"] == "loading" and h.json()["ready"] is False
        assert client.get("/healthz?ready=true").status_code == 503
        r = client.post("/v1/rewrite", json={"texts": ["a"]})
        assert "loading" in assert_json_error(r, 503) and r.headers["retry-after"]
        assert_json_error(client.get("/v1/models"), 503)
        release.set()
        wait_ready(client)
        assert client.post("/v1/rewrite", json={"texts": ["a"]}).status_code == 200


def test_load_before_serving_waits_for_the_models():
    loaded = []

    def load(where):
        loaded.append(where)
        return fake_rewriter()

    with TestClient(create_app(Settings(load_before_serving=True), load=load)) as client:
        assert loaded == ["yelp"]  # loaded before the first request could arrive
        assert client.get("/healthz").json()["ready"] is True


def test_a_model_that_fails_to_load_is_reported():
    def broken(where):
        raise TextcycleError(f"{where} is not a textcycle model: config.json is missing")

    with TestClient(create_app(Settings(models=["mine=/nowhere"]), load=broken)) as client:
        for _ in range(200):
            if client.get("/healthz").json()["status"] != "loading":
                break
        h = client.get("/healthz").json()
        assert h["status"] == "failed" and "config.json is missing" in h["error"]
        assert "config.json is missing" in assert_json_error(client.post("/v1/rewrite", json={"texts": ["a"]}), 503)


def test_an_engine_failure_is_a_json_500_and_the_worker_goes_on(make_client):
    client, rw = make_client()
    rw.fail_on = "boom"
    msg = assert_json_error(client.post("/v1/rewrite", json={"texts": ["boom"]}), 500)
    assert "engine broke" in msg
    assert client.post("/v1/rewrite", json={"texts": ["fine"]}).status_code == 200


def test_an_unexpected_bug_is_a_json_500_not_a_traceback(make_client):
    client, rw = make_client()

    class Broken:
        def __get__(self, obj, kind):
            raise ZeroDivisionError("a bug")

    type(rw).engine_name = Broken()
    try:
        assert assert_json_error(client.get("/v1/models"), 500) == "internal server error"
    finally:
        del type(rw).engine_name
    assert client.get("/v1/models").status_code == 200


def test_several_models(make_client):
    client, _ = make_client(models=["yelp", "other=/some/run/best"])
    m = client.get("/v1/models").json()["models"]
    assert [x["name"] for x in m] == ["yelp", "other"] and [x["default"] for x in m] == [True, False]
    assert client.post("/v1/rewrite", json={"texts": ["a"], "model": "other"}).json()["model"] == "other"


def test_settings_name_models():
    s = Settings(models=["yelp", "runs/mine/best", "x=runs/a", "/data/model-3"])
    assert [n for n, _ in s.model_names()] == ["yelp", "mine", "x", "model-3"]


def test_access_and_error_log_lines(client, caplog):
    with caplog.at_level("INFO", logger="textcycle.serve"):
        client.post("/v1/rewrite", json={"texts": ["fine"]})
        client.post("/v1/rewrite", json={"texts": []})
    lines = [r.getMessage() for r in caplog.records if r.name == "textcycle.serve"]
    access = [x for x in lines if '"POST /v1/rewrite"' in x]
    errors = [x for x in lines if x.startswith("error ")]
    assert len(access) == 2 and " 200 " in access[0] and " 422 " in access[1]
    assert len(errors) == 1 and "at least 1" in errors[0]
    json.dumps(lines)  # plain strings


def test_the_worker_runs_numpy_blas_on_one_thread(make_client):
    """The numpy discriminator's BLAS threads spin-wait on cores shared with the engine and the
    clients (1.6x the sentences/s with one thread, measured): loading the models limits them in
    the engine thread, where the batches run."""
    import os

    from threadpoolctl import threadpool_info, threadpool_limits

    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    if not blas or (os.cpu_count() or 1) < 2:
        pytest.skip("numpy reports no BLAS library to threadpoolctl, or this machine has one core")
    before = blas[0]["num_threads"]
    try:
        client, _ = make_client()
        in_engine_thread = client.app.state.server.batcher.executor.submit(threadpool_info).result()
        assert {p["num_threads"] for p in in_engine_thread if p["user_api"] == "blas"} == {1}
    finally:
        threadpool_limits(before, user_api="blas")
