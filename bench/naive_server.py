"""Naive server (c): FastAPI plus `model.predict(x)` on every request.

The way a model is usually first put behind HTTP: load the Keras model, call
`predict` per request on the event loop, no batching, no compiled signature. It is
the "before" against which modelfleet's serving path is measured.

    .venv/bin/python bench/naive_server.py --port 8602 --kind lenet
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np
from fastapi import FastAPI, Request

# Run as a script, this file's folder (bench/) is first on sys.path.
from models import KINDS, bench_kind

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def create_app(kind: str) -> FastAPI:
    """Build the untrained `kind` model from the zoo and serve it one predict per request."""
    import keras

    from modelfleet import zoo

    spec = bench_kind(kind)
    keras.utils.set_random_seed(0)
    model = zoo.build(spec.architecture, spec.input_shape, spec.num_classes)
    model.predict(np.zeros((1, *spec.input_shape), dtype=np.float32), verbose=0)  # warm

    app = FastAPI(title=f"bench naive {kind}", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/v1/models/{name}:predict")
    async def predict(name: str, request: Request) -> dict[str, Any]:
        body = await request.json()
        x = np.asarray(body["instances"], dtype=np.float32)
        return {"predictions": model.predict(x, verbose=0).tolist()}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--kind", default="lenet", choices=sorted(KINDS))
    args = parser.parse_args()

    import uvicorn

    app = create_app(args.kind)
    uvicorn.run(app, host=args.host, port=args.port, workers=1, log_level="warning")


if __name__ == "__main__":
    main()
