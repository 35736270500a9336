"""The Functional API: ``Model(inputs, outputs)`` over any graph of layers.

``Input`` gives symbolic tensors; calling layers on them records nodes
(``minidl.layers.symbolic``); ``Model`` walks the nodes back from the outputs, orders them
so that every node comes after the nodes it reads, and then runs them forward (each
node's output kept by tensor) and backward (the gradient of a tensor summed over every
node that reads it). Training, evaluation, prediction, callbacks and the weights are
``Sequential``'s: a functional model differs only in how it runs its layers.
"""
import numpy as np

from minidl import backend, losses, ops, saving
from minidl.layers import InputLayer
from minidl.layers import deserialize as deserialize_layer
from minidl.layers.base import PerThread
from minidl.layers.symbolic import KerasTensor, input_tensor
from minidl.models import data_adapter
from minidl.models.sequential import Sequential, adjusted_rank


def _flatten_tensors(structure, where, argument):
    """A list of KerasTensors from one tensor, a list/tuple or a dict of them."""
    if isinstance(structure, KerasTensor):
        return [structure]
    if isinstance(structure, dict):
        structure = list(structure.values())
    if isinstance(structure, (list, tuple)) and structure and \
            all(isinstance(t, KerasTensor) for t in structure):
        return list(structure)
    raise TypeError(f"{where}: argument '{argument}' must be a KerasTensor (from "
                    f"minidl.Input or a layer called on one) or a list of them. Received: "
                    f"{structure!r}")


def _ordered_nodes(outputs, inputs, where):
    """The nodes that compute ``outputs`` from ``inputs``, each after those it reads."""
    input_ids = {id(t) for t in inputs}
    order, state = [], {}

    def visit(tensor):
        node = tensor.node
        if state.get(id(node)) == "done":
            return
        if state.get(id(node)) == "active":
            raise ValueError(f"{where}: the layer graph has a cycle through "
                             f"'{node.layer.name}'")
        if not node.inputs:  # an InputLayer's tensor
            if id(tensor) not in input_ids:
                raise ValueError(f"{where}: output depends on the input "
                                 f"'{node.layer.name}', which is not in 'inputs'")
            state[id(node)] = "done"
            return
        state[id(node)] = "active"
        for parent in node.inputs:
            visit(parent)
        state[id(node)] = "done"
        order.append(node)

    for tensor in outputs:
        visit(tensor)
    return order


class Functional(Sequential):
    """A model defined by its input and output tensors (``keras.Model(inputs, outputs)``).

    Args:
        inputs (KerasTensor or list of KerasTensor or dict): a KerasTensor from
            ``minidl.Input`` or a list of them (a dict: its values, in order).
        outputs (KerasTensor or list of KerasTensor or dict): a KerasTensor computed from
            the inputs by calling layers, or a list of them (a dict: its values, in order).
        name (str or None): the model's name (default ``functional``, made unique).
        trainable (bool): whether fit updates the model's weights.

    Several inputs are given to ``fit``/``predict``/``__call__`` as a list of arrays in
    the order of ``inputs``; several outputs come back as a list, and take a list of
    targets, a list (or a dict by output layer name) of losses and ``loss_weights``.

    Example:
        >>> import minidl
        >>> from minidl import layers, models
        >>> inputs = minidl.Input((8,))
        >>> hidden = layers.Dense(4, activation="relu")(inputs)
        >>> outputs = layers.Dense(1)(layers.concatenate([inputs, hidden]))
        >>> model = models.Model(inputs, outputs)
        >>> type(model).__name__, model.count_params()
        ('Model', 49)
    """

    # the forward caches of shared layers' calls, by node, per thread (as layers' own)
    _node_caches = PerThread()
    # per-output losses and their weights (compile, several outputs only)
    _output_losses = None
    _loss_weights = None
    # compile's arguments given to a subclassed model before it was traced
    _pending_compile = None

    def __init__(self, inputs, outputs, name=None, trainable=True):
        super().__init__(name=name or backend.unique_name("functional"), trainable=trainable)
        self._init_graph(inputs, outputs)

    def _init_graph(self, inputs, outputs):
        """Take the graph from ``inputs`` to ``outputs``: its nodes in order, its layers
        (each once, shared ones too) and the output shapes."""
        where = f"Model '{self.name}'"
        input_list = _flatten_tensors(inputs, where, "inputs")
        output_list = _flatten_tensors(outputs, where, "outputs")
        for tensor in input_list:
            if not isinstance(tensor.node.layer, InputLayer):
                raise ValueError(f"{where}: every input must come from minidl.Input(); "
                                 f"'{tensor.name}' is the output of a layer")
        nodes = _ordered_nodes(output_list, input_list, where)
        layers = []
        for node in nodes:
            if all(node.layer is not layer for layer in layers):
                layers.append(node.layer)
        names = [layer.name for layer in layers]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise ValueError(f"{where}: all layers must have unique names; '{duplicate}' "
                             f"is used by two layers")
        counts = {}
        for node in nodes:
            counts[id(node.layer)] = counts.get(id(node.layer), 0) + 1
        self._inputs, self._outputs, self._nodes = input_list, output_list, nodes
        self._single_input = isinstance(inputs, KerasTensor)
        self._single_output = isinstance(outputs, KerasTensor)
        self._layers = layers
        self._shared_ids = {key for key, count in counts.items() if count > 1}
        self._output_shapes = [t.shape for t in output_list]
        self._build_input_shape = input_list[0].shape
        self.built = True

    # ---------------------------------------------------------------- structure
    @property
    def inputs(self):
        """The model's input tensors."""
        return list(self._inputs)

    @property
    def outputs(self):
        """The model's output tensors."""
        return list(self._outputs)

    @property
    def input_shape(self):
        """The input shape (a list of shapes for several inputs)."""
        shapes = [t.shape for t in self._inputs]
        return shapes[0] if self._single_input else shapes

    @property
    def output_shape(self):
        """The output shape (a list of shapes for several outputs)."""
        shapes = [t.shape for t in self._outputs]
        return shapes[0] if self._single_output else shapes

    def add(self, layer):
        """Not available: a functional model's graph is fixed by its tensors."""
        raise TypeError(f"Model '{self.name}': add() belongs to Sequential; a functional "
                        f"model is defined by its inputs and outputs")

    def pop(self):
        """Not available (see ``add``)."""
        self.add(None)

    def _inference_plan(self):
        """No folding across a graph (the layers run as they are)."""
        return None

    def build(self, input_shape=None):
        """A functional model is built when it is defined: nothing to do."""

    def _ensure_built(self, x):
        """Check that the data holds one array per input."""
        self._input_arrays(x)

    # ---------------------------------------------------------------- computation
    def _input_arrays(self, x):
        """The list of input arrays, one per model input, checked against their shapes."""
        if isinstance(x, dict):
            arrays = [x.get(t.node.layer.name) for t in self._inputs]
        else:
            arrays = list(x) if data_adapter.is_structure(x) else [x]
        if len(arrays) != len(self._inputs) or any(a is None for a in arrays):
            raise ValueError(f"Model '{self.name}' expects {len(self._inputs)} input "
                             f"array(s) for inputs "
                             f"{[t.node.layer.name for t in self._inputs]}. Received: "
                             f"{len(arrays)}")
        return [adjusted_rank(a, t.shape) for a, t in zip(arrays, self._inputs)]

    def _output_layer(self):
        """The layer of the only output (the fused softmax loss looks at it)."""
        return self._outputs[0].node.layer if self._single_output else None

    def _uses_fused_softmax(self):
        last = self._output_layer()
        return (last is not None and self._output_losses is None
                and getattr(self.loss, "supports_fused_softmax", False)
                and getattr(last, "activation", None) == "softmax"
                and getattr(last, "logits", None) is not None
                and id(last) not in self._shared_ids)

    def _forward(self, x, training, plan=None):
        values = {id(t): a for t, a in zip(self._inputs, self._input_arrays(x))}
        recorded = self._recorded_outputs if training else None
        self._node_caches = {}
        masks = {}  # Keras's masking: each tensor's mask, where one was made
        with self._memory:
            for node in self._nodes:
                layer = node.layer
                args = [values[id(t)] for t in node.inputs]
                arg_masks = [masks.get(id(t)) for t in node.inputs]
                single = node.input_structure == "single"
                arg, mask = (args[0], arg_masks[0]) if single else (args, arg_masks)
                out = layer(arg, training=training, mask=mask)
                out_mask = layer.compute_mask(arg, mask)
                if out_mask is not None:
                    for tensor in node.outputs:
                        masks[id(tensor)] = out_mask
                if id(layer) in self._shared_ids:  # each call's cache, for its backward
                    self._node_caches[id(node)] = layer._cache
                outs = out if len(node.outputs) > 1 else [out]
                for tensor, value in zip(node.outputs, outs):
                    values[id(tensor)] = value
                if recorded is not None:
                    recorded.append((layer, out))
        results = [values[id(t)] for t in self._outputs]
        return results[0] if self._single_output else results

    def _backward(self, grad, from_logits):
        grads = {}
        for tensor, g in zip(self._outputs, [grad] if self._single_output else grad):
            grads[id(tensor)] = g
        sums = {}
        for node in reversed(self._nodes):
            dys = [grads.get(id(t)) for t in node.outputs]
            if all(dy is None for dy in dys):
                continue
            layer = node.layer
            if id(layer) in self._shared_ids:
                layer._cache = self._node_caches[id(node)]
            dy = dys[0] if len(dys) == 1 else dys  # None: an output no loss reaches
            if from_logits and self._single_output and node is self._outputs[0].node:
                dx = layer.backward_pre_activation(dy)
            else:
                dx = layer.backward(dy)
            if id(layer) in self._shared_ids:
                self._accumulate_weight_gradients(layer, sums)
            if dx is None:
                continue
            for tensor, g in zip(node.inputs, dx if node.input_structure == "list" else [dx]):
                grads[id(tensor)] = g if id(tensor) not in grads else \
                    ops.add(grads[id(tensor)], g)
        for variable, total in sums.values():
            variable.grad = total
        inputs = [grads.get(id(t)) for t in self._inputs]  # None where none was computed
        return inputs[0] if len(inputs) == 1 else inputs

    @staticmethod
    def _accumulate_weight_gradients(layer, sums):
        """Sum a shared layer's weight gradients over its calls (its backward overwrites
        ``variable.grad`` on each call)."""
        for variable in layer.trainable_weights:
            if variable.grad is None:
                continue
            if id(variable) in sums:
                sums[id(variable)] = (variable, sums[id(variable)][1] + variable.grad)
            else:
                sums[id(variable)] = (variable, np.array(variable.grad, copy=True))

    # ---------------------------------------------------------------- compile and losses
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                **kwargs):
        """As ``Sequential.compile``; with several outputs, ``loss`` may be one loss for
        all, a list (one per output) or a dict by output layer name, and
        ``loss_weights`` a list or dict of floats (default 1 each). A subclassed model
        not yet traced keeps the arguments until its first call shows its outputs."""
        if self._nodes is None:
            self._pending_compile = dict(optimizer=optimizer, loss=loss, metrics=metrics,
                                         loss_weights=loss_weights, **kwargs)
            if isinstance(loss, (list, tuple, dict)):  # several outputs: known after tracing
                return super().compile(optimizer=optimizer, loss=None, **kwargs)
            return super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
        if self._single_output:
            return super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
        if metrics:
            raise NotImplementedError(f"Model '{self.name}': metrics on a model with several "
                                      f"outputs are not implemented yet; compile without "
                                      f"metrics (the per-output losses are logged)")
        super().compile(optimizer=optimizer, loss=None, metrics=None, **kwargs)
        self._output_losses = [losses.get(spec) for spec in
                               self._per_output(loss, "loss", None)]
        self._loss_weights = [float(w) for w in
                              self._per_output(loss_weights, "loss_weights", 1.0)]
        self.loss = self._output_losses[0]

    def _per_output(self, spec, argument, default):
        """One value per output from a single value, a list or a dict by output name."""
        names = [t.node.layer.name for t in self._outputs]
        if spec is None and default is not None:
            return [default] * len(names)
        if isinstance(spec, dict):
            missing = [n for n in names if n not in spec]
            if missing or len(spec) != len(names):
                raise ValueError(f"compile: argument '{argument}' must have one entry per "
                                 f"output {names}. Received keys {sorted(spec)}")
            return [spec[n] for n in names]
        if isinstance(spec, (list, tuple)):
            if len(spec) != len(names):
                raise ValueError(f"compile: argument '{argument}' must have one entry per "
                                 f"output ({len(names)}). Received {len(spec)} entries")
            return list(spec)
        if spec is None:
            raise ValueError(f"compile: argument '{argument}' is required")
        return [spec] * len(names)

    def _loss_and_output_gradient(self, y, out):
        if self._output_losses is None:
            return super()._loss_and_output_gradient(y, out)
        if isinstance(y, data_adapter.WeightedTargets):
            raise NotImplementedError(f"Model '{self.name}': sample_weight and class_weight "
                                      f"on a model with several outputs are not implemented")
        targets = y if isinstance(y, (list, tuple)) else None
        if targets is None or len(targets) != len(out):
            raise ValueError(f"Model '{self.name}' has {len(out)} outputs: give a list of "
                             f"{len(out)} target arrays")
        total, grads = None, []
        for loss, weight, target, output in zip(self._output_losses, self._loss_weights,
                                                targets, out):
            per_sample = backend.to_numpy(loss.compute(target, output)).astype(np.float64)
            total = weight * per_sample if total is None else total + weight * per_sample
            grads.append(ops.scale(loss.gradient(target, output), weight))
        return total, grads, False

    def _update_metrics(self, loss_tracker, per_sample, y, out, metrics=None):
        if self._output_losses is None:
            return super()._update_metrics(loss_tracker, per_sample, y, out, metrics)
        loss_tracker.update_state(float(np.mean(per_sample)), sample_weight=len(per_sample))

    # ---------------------------------------------------------------- config
    def _node_position(self, node):
        """``[layer name, node index, ...]`` of a node: its index among this model's
        calls of the layer (0 for an input)."""
        if not node.inputs:
            return 0
        return [n for n in self._nodes if n.layer is node.layer].index(node)

    def _tensor_reference(self, tensor):
        return [tensor.node.layer.name, self._node_position(tensor.node), tensor.index]

    def get_config(self):
        """The graph: every layer (inputs first) with the tensors each of its calls
        reads, and the model's input and output tensors (Keras's functional layout)."""
        entries = [{"class_name": type(t.node.layer).__name__, "name": t.node.layer.name,
                    "config": t.node.layer.get_config(), "inbound_nodes": []}
                   for t in self._inputs]
        for layer in self._layers:
            calls = [n for n in self._nodes if n.layer is layer]
            entries.append({"class_name": type(layer).__name__, "name": layer.name,
                            "config": layer.get_config(),
                            "inbound_nodes": [{"args": [self._tensor_reference(t)
                                                        for t in node.inputs],
                                               "structure": node.input_structure}
                                              for node in calls]})
        return {"name": self.name, "trainable": self._trainable, "layers": entries,
                "input_layers": [self._tensor_reference(t) for t in self._inputs],
                "output_layers": [self._tensor_reference(t) for t in self._outputs],
                "single_input": self._single_input, "single_output": self._single_output}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild the graph of ``get_config()``: make the layers, then call each on the
        tensors its calls read, in an order where those exist."""
        layers_by_name, tensors, pending = {}, {}, []
        for entry in config["layers"]:
            layer = deserialize_layer({"class_name": entry["class_name"],
                                       "config": entry["config"]}, custom_objects)
            layers_by_name[entry["name"]] = layer
            if isinstance(layer, InputLayer):
                tensors[(entry["name"], 0)] = [input_tensor(layer)]
            for index, node in enumerate(entry["inbound_nodes"]):
                pending.append((entry["name"], index, node))
        while pending:
            ready = [item for item in pending
                     if all((name, node) in tensors for name, node, _ in item[2]["args"])]
            if not ready:
                raise ValueError(f"the functional config of '{config.get('name')}' refers "
                                 f"to layer calls that never happen: {pending[0][2]}")
            for name, index, node in ready:
                args = [tensors[(n, k)][t] for n, k, t in node["args"]]
                out = layers_by_name[name](args[0] if node["structure"] == "single" else args)
                tensors[(name, index)] = out if isinstance(out, list) else [out]
                pending.remove((name, index, node))

        def resolve(references, single):
            found = [tensors[(n, k)][t] for n, k, t in references]
            return found[0] if single else found

        return cls(resolve(config["input_layers"], config.get("single_input", True)),
                   resolve(config["output_layers"], config.get("single_output", True)),
                   name=config.get("name"), trainable=config.get("trainable", True))

    def summary(self, line_length=None, positions=None, print_fn=None):
        """The layers in graph order with their output shapes, parameter counts and the
        layers each one reads ("connected to")."""
        from minidl.models.summary import summary_lines
        rows = []
        def text(shape):
            return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
                ("," if len(shape) == 1 else "") + ")"
        for node in self._nodes:
            shapes = [text(t.shape) for t in node.outputs]  # several: Keras's list form
            shape_text = shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"
            sources = ", ".join(t.node.layer.name for t in node.inputs)
            rows.append((f"{node.layer.name} ({type(node.layer).__name__})", shape_text,
                         node.layer.count_params() if node.index == 0 else 0, sources))
        trainable = sum(v.value.size for v in self.trainable_weights)
        for line in summary_lines(self.name, rows, self.count_params(), trainable):
            (print_fn or print)(line)


class Model(Functional):
    """A model, as ``keras.Model``: either functional, ``Model(inputs, outputs)``, or a
    subclass that creates its layers in ``__init__`` and defines ``call(inputs)``.

    A subclass's ``call`` is traced once, on symbolic inputs of the first data's shape,
    into the same graph a functional model has, so it trains with the layers' own
    backward passes; ``call`` may therefore combine layers (any graph of them, merge
    layers included) but not arbitrary array arithmetic.

    Args:
        inputs (KerasTensor or list of KerasTensor or dict or None): the input tensor(s), as
            :class:`Functional`'s (functional form); None for a subclass.
        outputs (KerasTensor or list of KerasTensor or dict or None): the output tensor(s),
            as :class:`Functional`'s (functional form); None for a subclass.
        name (str or None): the model's name (default ``functional`` for the functional
            form, else the class name in snake_case; made unique).
        trainable (bool): whether fit updates the model's weights.

    Example:
        >>> import numpy as np
        >>> import minidl
        >>> from minidl import layers
        >>> inputs = minidl.Input((6,))
        >>> hidden = layers.Dense(4, activation="tanh")(inputs)
        >>> outputs = layers.Dense(1)(layers.concatenate([hidden, inputs]))
        >>> model = minidl.Model(inputs, outputs)
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> model.train_on_batch(np.ones((2, 6)), np.zeros((2, 1))) >= 0
        True
        >>> model.output_shape
        (None, 1)
    """

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True):
        if inputs is None and outputs is None:  # subclassed: traced on first use
            Sequential.__init__(self, name=name or backend.unique_name(
                backend.to_snake_case(type(self).__name__)), trainable=trainable)
            self._nodes = None
            return
        if inputs is None or outputs is None:
            raise ValueError("Model: give both 'inputs' and 'outputs' (functional model), "
                             "or neither (a subclass with a call() method)")
        super().__init__(inputs, outputs, name=name, trainable=trainable)

    def call(self, inputs, training=False):
        """The forward computation of a subclassed model (subclasses define it).

        Args:
            inputs (KerasTensor or list of KerasTensor): symbolic inputs (one per model
                input): minidl traces ``call`` once on them, on the first data's shape,
                so it may combine layers only.
            training (bool): Keras's training flag; the trace calls ``call(inputs)``
                with its default, and ``fit``/``predict`` then run the traced layers in
                training or inference mode.
        """
        raise NotImplementedError(f"{type(self).__name__}: a Model subclass must define "
                                  f"call(inputs)")

    def _trace(self, shapes):
        """Build the graph of a subclassed model by calling ``call`` on symbolic
        inputs of ``shapes`` (one shape, or a list for several inputs)."""
        from minidl.layers.core import Input
        several = isinstance(shapes, list)
        inputs = [Input(batch_shape=tuple(s)) for s in shapes] if several else \
            Input(batch_shape=tuple(shapes))
        try:
            outputs = self.call(inputs)
        except TypeError as error:
            raise NotImplementedError(
                f"{type(self).__name__}.call: minidl traces call() once on symbolic "
                f"inputs, so it may combine layers only, not array arithmetic ({error})"
            ) from error
        self._init_graph(inputs, outputs)
        if self._pending_compile is not None:
            pending, self._pending_compile = self._pending_compile, None
            self.compile(**pending)

    def build(self, input_shape=None):
        """Trace a subclassed model's ``call`` for inputs of ``input_shape``."""
        if self._nodes is None:
            if input_shape is None:
                raise ValueError(f"Model '{self.name}': build() needs the input shape")
            self._trace(input_shape)

    def _ensure_built(self, x):
        if self._nodes is None:
            arrays = x if isinstance(x, (list, tuple)) else None
            self._trace([(None,) + np.shape(a)[1:] for a in arrays] if arrays is not None
                        else (None,) + np.shape(x)[1:])
        super()._ensure_built(x)

    def _forward(self, x, training, plan=None):
        self._ensure_built(x)
        return super()._forward(x, training)

    @property
    def layers(self):
        """The model's layers (a subclassed model's after its first call)."""
        return list(self._layers)

    def get_config(self):
        """A functional model's graph; a subclassed model has none to save (its code
        is its definition): save its weights with ``save_weights``."""
        if type(self).call is not Model.call:
            raise NotImplementedError(f"{type(self).__name__}: saving a subclassed model "
                                      f"is not implemented (its call() is code); use "
                                      f"save_weights and rebuild it from its class")
        return super().get_config()


saving.register_model_class(Functional)
saving.register_model_class(Model)
