"""The client side of the V2 `/infer` call the platform itself makes (stream
classifier, reclassify DAG): encoded images in, ranked answers out."""

from __future__ import annotations

import base64
from typing import Any


def images_request(images: list[bytes]) -> dict[str, Any]:
    """A V2 infer body: one BYTES tensor of encoded images, asking for probabilities."""
    return {
        "inputs": [
            {
                "name": "encoded_image",
                "shape": [len(images)],
                "datatype": "BYTES",
                "data": [base64.b64encode(i).decode() for i in images],
            }
        ],
        "outputs": [{"name": "probabilities"}],
    }


def answers(reply: dict[str, Any], classes: list[str]) -> list[dict[str, Any]]:
    """[{label, score, scores}] per image of a V2 reply's flat probabilities."""
    flat = reply["outputs"][0]["data"]
    out = []
    for start in range(0, len(flat), len(classes)):
        probs = flat[start : start + len(classes)]
        best = max(range(len(classes)), key=probs.__getitem__)
        out.append(
            {
                "label": classes[best],
                "score": probs[best],
                "scores": dict(zip(classes, probs, strict=True)),
            }
        )
    return out
