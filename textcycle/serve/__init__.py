"""`python -m textcycle.serve`: textcycle models behind an HTTP API and a web page.

- `app.py`: the FastAPI app (`create_app(Settings(...))`): routes, caps, JSON errors, logging;
- `batching.py`: dynamic batching (a queue per model and option set, one engine thread);
- `work.py`: what the engine thread does with a batch (rewrite, rerank candidates);
- `schemas.py`: the request and response bodies (the OpenAPI page at /docs);
- `static/`: the web page at / (plain HTML, CSS and JS; no CDN);
- `__main__.py`: the command line (uvicorn, `--workers`).

The API and its limits: docs/serve.md.
"""
