"""Symbolic tensors: what ``Input`` returns and what a layer called on one returns.

Calling a layer on ``KerasTensor`` objects computes nothing: it builds the layer for the
inputs' shapes, records a ``Node`` (the layer, its input tensors, its output tensors) and
returns new ``KerasTensor`` objects that remember the node. ``minidl.models.Model`` walks
these nodes back from the outputs to the inputs to obtain the graph it runs.
"""
import numpy as np


class KerasTensor:
    """A symbolic tensor of a functional model: a shape (batch axis first, None when
    free) and a dtype, produced by one output of one node.

    Args:
        shape (tuple of ints): the full shape, batch axis included (None where free).
        dtype (str): ``'float32'`` or ``'float64'``.
        node (Node): the ``Node`` that produces it.
        index (int): which of the node's outputs it is.
        name (str or None): a readable name (default: the producing layer's).
    """

    def __init__(self, shape, dtype, node, index=0, name=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.node = node
        self.index = index
        self.name = name or node.layer.name

    @property
    def ndim(self):
        """The number of axes, batch axis included."""
        return len(self.shape)

    def __array__(self, *args, **kwargs):
        raise TypeError(f"KerasTensor '{self.name}' is symbolic: it has no values. Use it "
                        f"to define a model with minidl.models.Model(inputs, outputs), then "
                        f"call the model on arrays")

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


class Node:
    """One call of a layer on symbolic inputs.

    Args:
        layer (Layer): the layer called.
        inputs (list of KerasTensor): the input tensors (empty for an ``InputLayer``).
        input_structure (str): ``'single'`` when the layer was given one tensor,
            ``'list'`` when it was given a list (merge layers), so the model calls it the
            same way.
    """

    def __init__(self, layer, inputs, input_structure):
        self.layer = layer
        self.inputs = list(inputs)
        self.input_structure = input_structure
        self.outputs = []
        nodes = layer.__dict__.setdefault("_inbound_nodes", [])
        self.index = len(nodes)
        nodes.append(self)


def is_symbolic(inputs):
    """True when ``inputs`` is a KerasTensor or a non-empty list/tuple of them."""
    if isinstance(inputs, KerasTensor):
        return True
    return isinstance(inputs, (list, tuple)) and len(inputs) > 0 and \
        all(isinstance(t, KerasTensor) for t in inputs)


def call_symbolic(layer, inputs):
    """Record ``layer(inputs)`` on symbolic inputs: build the layer for their shapes and
    return the symbolic output (one KerasTensor, or a list for several outputs)."""
    single = isinstance(inputs, KerasTensor)
    tensors = [inputs] if single else list(inputs)
    shapes = tensors[0].shape if single else [t.shape for t in tensors]
    if not layer.built:
        layer.build(shapes)
    elif single:
        layer._check_input(np.empty((0,) + tuple(1 if d is None else d
                                                 for d in shapes[1:])))
    output_shape = layer.compute_output_shape(shapes)
    node = Node(layer, tensors, "single" if single else "list")
    several = isinstance(output_shape, list)
    for i, shape in enumerate(output_shape if several else [output_shape]):
        node.outputs.append(KerasTensor(shape, layer.dtype, node, i))
    return list(node.outputs) if several else node.outputs[0]


def input_tensor(input_layer):
    """The KerasTensor an ``InputLayer`` produces (made once)."""
    nodes = input_layer.__dict__.get("_inbound_nodes")
    if not nodes:
        node = Node(input_layer, [], "single")
        node.outputs.append(KerasTensor(input_layer.shape, input_layer.dtype, node, 0))
        nodes = input_layer._inbound_nodes
    return nodes[0].outputs[0]
