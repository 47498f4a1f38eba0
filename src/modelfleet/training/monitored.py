"""One compiled batch function that answers and also yields what the prediction log needs.

The exported SavedModel only has its `serve` function: a Keras export keeps no layers to
ask for the penultimate activations. Its graph does hold them, though: `serve` ends in
`MatMul -> BiasAdd -> Softmax`, and the MatMul's input is the penultimate embedding. This
module freezes `serve` (its variables become constants: a flat graph whose weights
TensorFlow's graph optimiser may fold and fuse; 13% less endpoint CPU a request for
ResNet-20, docs/benchmarks.md), imports the frozen graph into a new
`tf.function` that returns both the probabilities and the embedding through the version's
fixed projection (`modelfleet.embedding.projection`), and traces it when the model loads
(the endpoint) or once per reference computation (`monitoring.reference`). The artifact
does not change, and every version exported so far works the same way.

A graph that does not end that way (no recognisable classifier head) still gets the
frozen `serve`, and projects the probabilities instead of an embedding, so a logged row
still has its PROJECTED_DIMS floats.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from modelfleet.embedding import PROJECTED_DIMS, input_stats, projection

# (batch) -> (probabilities (n, classes), extras (n, PROJECTED_DIMS + 2)):
# the projected embedding, then brightness and contrast.
MonitoredFn = Callable[[np.ndarray], np.ndarray]
EXTRA_COLUMNS = PROJECTED_DIMS + 2
_PASS_THROUGH = ("BiasAdd", "Add", "AddV2", "Identity")


def monitored_infer(
    loaded: Any, input_shape: tuple[int, ...], workflow: str, version: str
) -> tuple[MonitoredFn, bool]:
    """A batch function returning `[probabilities | projected embedding | stats]` columns
    in one compiled call, and whether the embedding is the penultimate layer's (True) or
    the probabilities' projection (False, an unrecognised graph). Holds no reference to
    `loaded`: the weights live on as the frozen graph's constants."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    spec = tf.TensorSpec([None, *input_shape], tf.float32)
    frozen = convert_variables_to_constants_v2(loaded.serve.get_concrete_function(spec))
    graph = frozen.graph.as_graph_def()
    feed, output = frozen.inputs[0].name, frozen.outputs[0].name
    head = _head(graph)
    if head is not None:  # the embedding's width, from the frozen graph's static shapes
        shape = frozen.graph.get_tensor_by_name(head[1]).shape
        if any(d is None for d in shape[1:]):  # not flat at the head: project the scores
            head = None
    penultimate = head is not None
    fetch = [output, output] if head is None else list(head)
    shape = frozen.graph.get_tensor_by_name(fetch[1]).shape
    width = int(np.prod(shape[1:]))
    matrix = tf.constant(projection(workflow, version, width))

    def both_outputs(x: Any) -> Any:
        probs, embedding = tf.graph_util.import_graph_def(
            graph, input_map={feed: x}, return_elements=fetch, name="served"
        )
        flat = tf.reshape(embedding, [tf.shape(embedding)[0], width])
        return probs, tf.matmul(flat, matrix)

    compiled = tf.function(both_outputs, input_signature=[spec]).get_concrete_function()

    def infer(batch: np.ndarray) -> np.ndarray:
        probs, projected = compiled(tf.constant(batch, dtype=tf.float32))
        # Input statistics in the same worker-thread call, off the event loop: one
        # vectorised pass, the same function the reference statistics use.
        return np.concatenate([probs.numpy(), projected.numpy(), input_stats(batch)], axis=1)

    return infer, penultimate


def _head(graph: Any) -> tuple[str, str] | None:
    """(probabilities, penultimate activations) tensor names in a frozen `serve` graph, or
    None if it has no MatMul -> (BiasAdd) -> Softmax head."""
    nodes = {n.name: n for n in graph.node}
    softmax = [n for n in graph.node if n.op == "Softmax"]
    if not softmax:
        return None
    node = nodes.get(softmax[-1].input[0].split(":")[0])
    while node is not None and node.op in _PASS_THROUGH:
        node = nodes.get(node.input[0].split(":")[0])
    if node is None or node.op != "MatMul":
        return None
    penultimate = node.input[0] if ":" in node.input[0] else node.input[0] + ":0"
    return softmax[-1].name + ":0", penultimate
