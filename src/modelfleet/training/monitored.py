"""One compiled batch function that answers and also yields what the prediction log needs.

The exported SavedModel only has its `serve` function: a Keras export keeps no layers to
ask for the penultimate activations. Its graph does hold them, though: `serve` calls one
function whose body ends in `MatMul -> BiasAdd -> Softmax`, and the MatMul's input is the
penultimate embedding. This module imports that body once more into a new `tf.function`
(bound to the SavedModel's own variables, so no weights are copied), returns both the
probabilities and the embedding through the version's fixed projection
(`modelfleet.embedding.projection`), and is traced when the model loads (the endpoint)
or once per reference computation (`monitoring.reference`). The artifact does
not change, and every version exported so far works the same way.

A graph that does not end that way (no recognisable classifier head) gets None: the
endpoint then serves with `serve` alone, and projects the probabilities instead (see
`monitored_infer`), so a logged row still has its PROJECTED_DIMS floats.
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
    the probabilities' projection (False, an unrecognised graph)."""
    import tensorflow as tf

    spec = tf.TensorSpec([None, *input_shape], tf.float32)
    both = _penultimate_function(loaded, spec)
    if both is None:
        probe = loaded.serve(tf.zeros([1, *input_shape], tf.float32))
        matrix = tf.constant(projection(workflow, version, int(probe.shape[-1])))

        def fallback(x: Any) -> Any:
            probs = loaded.serve(x)
            return probs, tf.matmul(probs, matrix)

        compiled, penultimate = tf.function(fallback, input_signature=[spec]), False
    else:
        graph_fn, width = both
        matrix = tf.constant(projection(workflow, version, width))

        def both_outputs(x: Any) -> Any:
            probs, embedding = graph_fn(x)
            flat = tf.reshape(embedding, [tf.shape(embedding)[0], width])
            return probs, tf.matmul(flat, matrix)

        compiled, penultimate = tf.function(both_outputs, input_signature=[spec]), True

    def infer(batch: np.ndarray) -> np.ndarray:
        probs, projected = compiled(tf.constant(batch, dtype=tf.float32))
        # Input statistics in the same worker-thread call, off the event loop: one
        # vectorised pass, the same function the reference statistics use.
        return np.concatenate([probs.numpy(), projected.numpy(), input_stats(batch)], axis=1)

    return infer, penultimate


def _penultimate_function(loaded: Any, spec: Any) -> tuple[Callable[[Any], Any], int] | None:
    """The body of `serve`, importable inside a tf.function, returning (probabilities,
    penultimate activations), and the embedding width; None if the graph has no
    MatMul -> (BiasAdd) -> Softmax head."""
    import tensorflow as tf
    from tensorflow.python.framework import function_def_to_graph

    try:
        concrete = loaded.serve.get_concrete_function(spec)
        outer = concrete.graph.as_graph_def()
        calls = [n for n in outer.node if n.op in ("StatefulPartitionedCall", "PartitionedCall")]
        if len(calls) != 1:
            return None
        library = {f.signature.name: f for f in outer.library.function}
        fdef = library[calls[0].attr["f"].func.name]
        body, _ = function_def_to_graph.function_def_to_graph_def(fdef)
        body.library.CopyFrom(outer.library)
    except Exception:  # a graph laid out otherwise: serve without the embedding
        return None
    nodes = {n.name: n for n in body.node}
    softmax = [n for n in body.node if n.op == "Softmax"]
    if not softmax:
        return None
    node = nodes.get(softmax[-1].input[0].split(":")[0])
    while node is not None and node.op in _PASS_THROUGH:
        node = nodes.get(node.input[0].split(":")[0])
    if node is None or node.op != "MatMul":
        return None
    penultimate = node.input[0] if ":" in node.input[0] else node.input[0] + ":0"
    probs_name = softmax[-1].name + ":0"
    args = [a.name for a in fdef.signature.input_arg]
    # `serve`'s graph passes its input, then its captured variable handles, in this order.
    captured = list(concrete.captured_inputs)
    if len(args) != 1 + len(captured):
        return None

    def graph_fn(x: Any) -> Any:
        feeds = {args[0] + ":0": x}
        for name, handle in zip(args[1:], captured, strict=True):
            feeds[name + ":0"] = tf.identity(handle)  # captures the variable in this graph
        return tf.graph_util.import_graph_def(
            body, input_map=feeds, return_elements=[probs_name, penultimate], name="monitored"
        )

    width_probe = tf.function(lambda x: graph_fn(x)[1], input_signature=[spec])
    try:
        shape = width_probe.get_concrete_function().structured_outputs.shape
    except Exception:
        return None
    if any(d is None for d in shape[1:]):
        return None
    return graph_fn, int(np.prod(shape[1:]))
