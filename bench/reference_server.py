"""HTTP reference (b): what a stock FastAPI app costs with no model at all.

It parses the same `:predict` JSON body the real endpoint takes and turns the
instances into a float32 array, then answers a constant. Its req/s is the ceiling
for any Python JSON-over-HTTP server on this machine, so the real server's numbers
can be read as a fraction of it.

    .venv/bin/python bench/reference_server.py --port 8601
"""

from __future__ import annotations

import argparse

import numpy as np
from fastapi import FastAPI, Request

CONSTANT = {"predictions": [[0.1] * 10]}


def create_app() -> FastAPI:
    """The app: one `:predict` route, no model, constant answer."""
    app = FastAPI(title="bench reference", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/v1/models/{name}:predict")
    async def predict(name: str, request: Request) -> dict[str, list[list[float]]]:
        body = await request.json()
        np.asarray(body["instances"], dtype=np.float32)  # the decode the real server does
        return CONSTANT

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    import uvicorn

    # uvicorn picks uvloop and httptools itself when they are installed.
    uvicorn.run(create_app(), host=args.host, port=args.port, workers=1, log_level="warning")


if __name__ == "__main__":
    main()
