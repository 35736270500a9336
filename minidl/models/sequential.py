"""``Sequential``: a linear stack of layers with Keras's compile/fit/evaluate/predict."""
import contextlib
import copy
import functools
import json
import signal
import threading
import warnings

import numpy as np

from minidl import autodiff, backend, distribute, losses, metrics as metrics_module, ops
from minidl import optimizers
from minidl import saving
from minidl import callbacks as callbacks_module
from minidl._interrupts import interrupts_deferred
from minidl.layers import InputLayer, Layer
from minidl.layers.symbolic import KerasTensor
from minidl.layers import deserialize as deserialize_layer
from minidl.layers import serialize as serialize_layer
from minidl.memory import MemoryArena
from minidl.models import data_adapter, folding, step_plan
from minidl.models.custom_steps import CustomSteps
from minidl.models.summary import summary_lines
from minidl.utils import Progbar
from minidl.variables import assign_all


class _InterruptGuard:
    """Defers Ctrl-C during ``fit`` to the end of the current step, so an interrupted
    fit never leaves half-updated weights; ``fit`` then returns its History."""

    def __init__(self):
        self.interrupted = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.interrupted:  # a second Ctrl-C interrupts at once
            raise KeyboardInterrupt
        self.interrupted = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


@contextlib.contextmanager
def _no_distribution():
    """Run one rank's share of a sharded call as a single process would."""
    current = distribute.distribution()
    distribute.set_distribution(None)
    try:
        yield
    finally:
        distribute.set_distribution(current)


def _scaled(grad, factor):
    """The output gradient (or each output's) times ``factor``."""
    if isinstance(grad, list):
        return [g * factor for g in grad]
    return grad * factor


def _exclusive_training(method):
    """Run a model method that trains (fit, train_on_batch, compile) as the model's only
    training call (``Sequential._training``)."""
    @functools.wraps(method)
    def only_trainer(self, *args, **kwargs):
        with self._training(method.__name__):
            return method(self, *args, **kwargs)
    return only_trainer


def _verbosity(verbose):
    return 1 if verbose == "auto" else int(verbose)


class Sequential(CustomSteps):
    """A linear stack of layers (``keras.Sequential``).

    Args:
        layers (list of Layer or None): the layers, in order; an ``Input(shape)`` (or an
            ``InputLayer``) may come first, and a ``Sequential`` model among them is
            nested as one layer.
        name (str or None): the model's name (default ``sequential``, made unique).
        trainable (bool): whether fit updates the model's weights.

    Example:
        >>> import numpy as np
        >>> import minidl
        >>> from minidl import layers
        >>> model = minidl.Sequential([minidl.Input((4,)), layers.Dense(8, activation="relu"),
        ...                            layers.Dense(3, activation="softmax")])
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
        ...               metrics=["accuracy"])
        >>> x, y = np.random.rand(32, 4), np.random.randint(0, 3, 32)
        >>> history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        >>> len(history.history["loss"]), model.predict(x[:5], verbose=0).shape
        (2, (5, 3))
    """

    def __init__(self, layers=None, name=None, trainable=True):
        self.name = name or backend.unique_name("sequential")
        self._layers = []
        self._input_layer = None
        self.built = False
        self._build_input_shape = None
        self.optimizer = None
        self.loss = None
        self._metrics = []
        self._metric_specs = []
        self.stop_training = False
        self.history = None
        self._trainable = bool(trainable)
        # The device the model computes on ('cpu' or 'cuda', chosen by compile): its
        # weights and optimizer state live there, and the same layer code runs on it.
        self.device = "cpu"
        # Held by every training step and by get/set_weights and saving, so that a
        # thread reading the weights while another trains sees a consistent snapshot
        # (never half an optimizer update). predict() and evaluate() do not take it:
        # the layers keep their forward caches per thread and evaluate counts its metrics
        # on copies, so they never change what a concurrent fit computes.
        self._state_lock = threading.RLock()
        # Held by fit, train_on_batch and compile: one thread trains a model at a time;
        # another thread's attempt is refused at once (see _training).
        self._training_lock = threading.Lock()
        self._training_thread = None
        # the step's arrays reuse the buffers of the previous step's (minidl.memory)
        self._memory = MemoryArena()
        # A list while a callback (minidl.callbacks.LayerStatistics) wants the next
        # training step's layer outputs: the forward pass appends (layer, output) pairs.
        self._recorded_outputs = None
        for layer in layers or []:
            self.add(layer)

    # ---------------------------------------------------------------- structure
    def add(self, layer):
        """Append a layer (an ``Input`` may only come first).

        Args:
            layer (Layer or KerasTensor or Sequential): the layer; an ``Input(shape)``
                tensor or an ``InputLayer`` (only first) fixes the input shape; a
                ``Sequential`` model is nested as one layer.
        """
        if isinstance(layer, KerasTensor) and isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer  # keras.Input(...) as the first element
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError(f"Sequential '{self.name}': an Input can only be the "
                                 f"first element of the model")
            self._input_layer = layer
            return
        if isinstance(layer, Sequential) and _model_as_layer is not None:
            layer = _model_as_layer(layer)  # a nested model (minidl.models.nested)
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential '{self.name}': add() expects a Layer. Received: "
                            f"{type(layer).__name__}")
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(f"Sequential '{self.name}': all layers must have unique names; "
                             f"'{layer.name}' is already used")
        self._layers.append(layer)
        shape = self._known_input_shape()
        if shape is not None:
            self.build(shape)
        else:
            self.built = False

    def pop(self):
        """Remove and return the last layer."""
        if not self._layers:
            raise ValueError(f"Sequential '{self.name}': there is no layer to pop")
        layer = self._layers.pop()
        self.built = bool(self._layers) and self.built
        return layer

    @property
    def layers(self):
        """The model's layers (without the Input); a nested model appears as itself."""
        return [getattr(layer, "model", layer) for layer in self._layers]

    def get_layer(self, name=None, index=None):
        """A layer by name or by index.

        Args:
            name (str or None): the layer's name (used when ``index`` is None).
            index (int or None): the layer's position in ``layers`` (negative counts
                from the end); it takes precedence over ``name``.
        """
        if index is not None:
            if not -len(self._layers) <= index < len(self._layers):
                raise ValueError(f"Sequential '{self.name}': get_layer index {index} is out "
                                 f"of range for {len(self._layers)} layers")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"Sequential '{self.name}': no layer named {name!r}; layers are "
                         f"{[layer.name for layer in self._layers]}")

    def _known_input_shape(self):
        if self._input_layer is not None:
            return self._input_layer.shape
        if self._layers and self._layers[0].input_shape_arg is not None:
            return self._layers[0].input_shape_arg
        if self._layers and self._layers[0].built:  # e.g. a Normalization already adapted
            return self._layers[0].build_input_shape
        return None

    def build(self, input_shape=None):
        """Build every layer for inputs of ``input_shape`` (batch axis included).

        Args:
            input_shape (tuple of ints or None): the input shape, batch axis first (None
                where a size is free); None: the shape of the model's ``Input`` or of
                its first layer's ``input_shape``.
        """
        shape = input_shape if input_shape is not None else self._known_input_shape()
        if shape is None:
            raise ValueError(f"Sequential '{self.name}': the input shape is unknown; pass "
                             f"an Input(shape), input_shape= on the first layer, or call "
                             f"build(input_shape)")
        shape = tuple(shape)
        self._build_input_shape = shape
        self._output_shapes = []
        for i, layer in enumerate(self._layers):
            if not layer.built:
                layer.build(shape)
            elif layer.build_input_shape is not None and \
                    tuple(layer.build_input_shape[1:]) != tuple(shape[1:]):
                raise ValueError(f"Layer '{layer.name}' was built for inputs of shape "
                                 f"{layer.build_input_shape} but receives {shape}")
            if hasattr(layer, "input_gradient"):  # none when no layer before has weights
                layer.input_gradient = any(earlier.weights for earlier in self._layers[:i])
            shape = tuple(layer.compute_output_shape(shape))
            self._output_shapes.append(shape)
        self.built = True
        self._place_state()  # new weights are made on the host: move them to the device

    def _ensure_built(self, x):
        if not self.built:
            self.build((None,) + tuple(np.shape(x)[1:]))

    @property
    def input_shape(self):
        """The shape of the model's input, batch axis included (built models)."""
        shape = self._build_input_shape if self.built else self._known_input_shape()
        if shape is None:
            raise AttributeError(f"Sequential '{self.name}' has no defined input shape yet "
                                 f"(it is not built)")
        return tuple(shape)

    @property
    def output_shape(self):
        """The shape of the model's output, batch axis included (built models)."""
        if not self.built or not self._layers:
            raise AttributeError(f"Sequential '{self.name}' has no defined output shape yet "
                                 f"(it is not built)")
        return tuple(self._output_shapes[-1])

    def to_json(self, **kwargs):
        """The model's architecture as a JSON string (``models.model_from_json`` reads it).

        Args:
            **kwargs: passed to ``json.dumps`` (``indent=2``, say).
        """
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config(),
                           "backend": "minidl"}, **kwargs)

    # ---------------------------------------------------------------- weights
    @property
    def trainable(self):
        """Whether fit updates the model's weights."""
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)

    @property
    def weights(self):
        """All weights, layer by layer."""
        return [v for layer in self._layers for v in layer.weights]

    @property
    def trainable_weights(self):
        """Weights the optimizer updates."""
        if not self._trainable:
            return []
        return [v for layer in self._layers for v in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        """Weights the optimizer does not update."""
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.weights if id(v) not in trainable]

    def count_params(self):
        """Number of scalars in all weights."""
        if not self.built:
            raise ValueError(f"Sequential '{self.name}': the model is not built yet; "
                             f"build it (or call it on data) before count_params()")
        return sum(layer.count_params() for layer in self._layers)

    def get_weights(self):
        """Copies of all weights, layer by layer (a consistent snapshot, also while
        another thread is training)."""
        with self._state_lock:
            return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        """Set all weights from a list of arrays (count and shapes checked first).

        Args:
            weights (list of array-like): one array per weight, in ``weights`` order
                (as ``get_weights`` returns them).
        """
        with self._state_lock:
            assign_all(self.weights, weights, f"Sequential '{self.name}'")

    # ---------------------------------------------------------------- summary
    def summary(self, line_length=None, positions=None, print_fn=None):
        """Print the Keras-format table of layers, output shapes and parameter counts
        (an unbuilt model, as in Keras 3: output shapes "?" and "0 (unbuilt)" params).

        Args:
            line_length (int or None): accepted for Keras compatibility (ignored: the
                columns fit their contents).
            positions (list of float or None): accepted for Keras compatibility
                (ignored).
            print_fn (callable or None): called with each line of the table (default
                ``print``).
        """
        if not self.built:
            rows = [(f"{layer.name} ({_type_name(layer)})", "?", "0 (unbuilt)")
                    for layer in self._layers]
            for line in summary_lines(self.name, rows, 0, 0):
                (print_fn or print)(line)
            return
        rows = []
        for layer, shape in zip(self._layers, self._output_shapes):
            shape_text = "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
                         ("," if len(shape) == 1 else "") + ")"
            rows.append((f"{layer.name} ({_type_name(layer)})", shape_text,
                         layer.count_params()))
        trainable = sum(v.value.size for v in self.trainable_weights)
        lines = summary_lines(self.name, rows, self.count_params(), trainable)
        for line in lines:
            (print_fn or print)(line)

    # ---------------------------------------------------------------- threads
    @contextlib.contextmanager
    def _training(self, where):
        """Run ``where`` (fit, train_on_batch, compile) as this model's only training
        call: a call from a thread while another one trains raises RuntimeError; the
        training thread itself may nest calls (fit's callbacks)."""
        if self._training_thread == threading.get_ident():
            yield
            return
        if not self._training_lock.acquire(blocking=False):
            raise RuntimeError(f"{where}: model '{self.name}' is training in another thread "
                               f"(fit, train_on_batch or compile); a model trains in one "
                               f"thread at a time (predict, evaluate and save may run "
                               f"beside it)")
        self._training_thread = threading.get_ident()
        try:
            yield
        finally:
            self._training_thread = None
            self._training_lock.release()

    def _callback_list(self, callbacks, steps, verbose):
        """The callbacks evaluate or predict calls: fit's own list as it is (its
        validation fires their on_test_* hooks), else a new list with this call's
        parameters."""
        if isinstance(callbacks, callbacks_module.CallbackList):
            return callbacks
        return callbacks_module.CallbackList(
            callbacks, model=self, params={"steps": steps, "verbose": _verbosity(verbose)})

    def _fresh_metrics(self):
        """Copies of the compiled metrics, reset: evaluate's own, so that an evaluation
        never changes the accuracy fit reports (even from another thread)."""
        copies = [copy.deepcopy(metric) for metric in self._resolve_metrics()]
        for metric in copies:
            metric.reset_state()
        return copies

    # ---------------------------------------------------------------- compile
    @_exclusive_training
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                run_eagerly=None, jit_compile=None, device=None, **kwargs):
        """Configure training.

        Args:
            optimizer (str or Optimizer or dict): name (``'sgd'``, ``'rmsprop'``,
                ``'adam'``, ``'adamw'``), ``Optimizer`` object or serialized dict.
            loss (str or Loss or dict or callable or None): name, Loss object,
                serialized dict or callable ``(y_true, y_pred)``.
            metrics (list or None): metric names, ``Metric`` objects or callables
                ``(y_true, y_pred)``; a name is reported exactly as spelled (``'acc'`` ->
                ``acc``).
            loss_weights (list or dict or None): accepted for compatibility (ignored by
                a ``Sequential`` model; a functional model with several outputs weighs
                its losses with it).
            run_eagerly (bool or None): accepted for compatibility (ignored).
            jit_compile (bool or None): accepted for compatibility (ignored).
            device (str or None): ``'cpu'`` or ``'cuda'`` (minidl extension); default
                ``minidl.cuda.get_device()`` (``set_device`` / ``MINIDL_DEVICE``, else
                ``'cpu'``). On ``'cuda'`` the weights and optimizer state live on the GPU
                and the same layers run there through ``minidl.ops`` (batches are copied
                in by the first op that meets a device weight); ``__call__`` then returns
                device arrays while ``predict`` returns NumPy arrays.
        """
        if kwargs:
            raise TypeError(f"compile: unexpected keyword argument(s) "
                            f"{', '.join(sorted(kwargs))}")
        self._set_device(device)
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss) if loss is not None else None
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise TypeError(f"compile: argument 'metrics' must be a list. Received: "
                            f"{type(metrics).__name__}")
        self._metric_specs = list(metrics or [])
        self._metrics = None  # resolved once the output shape is known

    def _set_device(self, device):
        """Choose the device for compile and place the weights and optimizer state."""
        from minidl import cuda
        device = cuda.get_device() if device is None else cuda._check_device(device, "compile")
        backend.get(device)  # RuntimeError with the reason when that device is unusable
        self.device = device
        with self._state_lock:
            self._place_state()

    def _place_state(self):
        """Move every weight (and the optimizer's slots) to the model's device; nothing
        to do when they are there already."""
        for variable in self.weights:
            if variable.device != self.device:
                variable.to_device(self.device)
        if self.optimizer is not None:
            self.optimizer._place_slots(self.device)

    def _require_compiled(self, where, step=None):
        """Refuse a model not compiled (a custom ``step`` may do without a loss)."""
        custom = step is not None and self._custom_step(step)
        if self.optimizer is None or (self.loss is None and not custom):
            raise RuntimeError(f"{where}: you must compile the model (with a loss) first")
        if custom and distribute.active() is not None:
            raise NotImplementedError(f"{where}: a custom {step} under DataParallel is not "
                                      f"implemented")

    def _resolve_metrics(self):
        if self._metrics is None:
            output_shape = self._output_shapes[-1] if self.built else None
            self._metrics = [metrics_module.get(m, loss=self.loss, output_shape=output_shape)
                             for m in self._metric_specs]
        return self._metrics

    def _logged_names(self, custom=False):
        names = [m.name for m in self.metrics] if custom else \
            ["loss"] + [m.name for m in self._resolve_metrics()]
        return names + ["val_" + name for name in names]

    @property
    def metrics_names(self):
        """``['loss', <metric names>]``."""
        return ["loss"] + [m.name for m in (self._resolve_metrics() if self.built else [])]

    # ---------------------------------------------------------------- computation
    def __call__(self, x, training=False):
        """The model's output for x (a Tensor under a GradientTape)."""
        if autodiff.recording() is None and not autodiff.is_tensor(x):
            return self._forward(x, training)
        return autodiff.record_call(x, functools.partial(self._layer_by_layer, training=training),
                                    lambda grad: self._backward(grad, False),
                                    self._stateful_parts(), self.trainable_weights)

    def _layer_by_layer(self, x, training):
        """The forward through the layers themselves (no folding: a tape needs each
        layer's state for its backward)."""
        if training or type(self)._forward is not Sequential._forward:
            return self._forward(x, training)
        self._ensure_built(x)
        return self._forward(x, False, plan=[functools.partial(layer.__call__, training=False)
                                             for layer in self._layers])

    def _stateful_parts(self):
        """The model and every layer in it (nested models' too): what a backward reads."""
        parts, stack = [self], list(self._layers)
        while stack:
            layer = stack.pop()
            parts.append(layer)
            inner = getattr(layer, "model", None)
            if isinstance(inner, Sequential):
                parts.append(inner)
                stack.extend(inner._layers)
            stack.extend(getattr(layer, "_inner_layers", list)())
        return parts

    def _forward(self, x, training, plan=None):
        self._ensure_built(x)
        x = adjusted_rank(x, self._build_input_shape)
        recorded = self._recorded_outputs if training else None
        with self._memory:  # inference too: each batch reuses the previous one's buffers
            if not training and not self._masked():  # batch norm folded where it can be
                if self._layers:  # what the first layer's call checks, a folded one too
                    x = self._layers[0]._convert_input(x)
                    self._layers[0]._check_input(x)
                for step in plan or self._inference_plan():
                    x = step(x)
                return x
            mask = None  # Keras's masking: from Embedding(mask_zero=True) or Masking
            for layer in self._layers:
                y = layer(x, training=training, mask=mask)
                mask = layer.compute_mask(x, mask)
                x = y
                if recorded is not None:
                    recorded.append((layer, x))
        return x

    def _masked(self):
        """Whether a layer makes a mask (then inference runs layer by layer, masks
        passed along, instead of the folded plan)."""
        return any(getattr(layer, "_makes_mask", False) for layer in self._layers)

    def _inference_plan(self):
        """The inference forward, with each batch norm that follows a convolution or a
        dense layer without activation folded into it (from the weights as they are)."""
        return folding.inference_plan(self._layers)

    def _output_layer(self):
        """The layer that produces the model's output."""
        return self._layers[-1]

    def _uses_fused_softmax(self):
        last = self._output_layer()
        return (getattr(self.loss, "supports_fused_softmax", False)
                and getattr(last, "activation", None) == "softmax"
                and getattr(last, "logits", None) is not None)

    def _loss_and_output_gradient(self, y, out):
        """Per-sample losses and the gradient that starts the backward pass; the fused
        softmax + cross-entropy path returns the gradient of the logits instead."""
        if isinstance(y, data_adapter.WeightedTargets):
            return self._weighted_loss_and_output_gradient(y, out)
        if self._uses_fused_softmax():
            per_sample, dlogits = self.loss.fused_softmax(y, self._output_layer().logits)
            return per_sample, dlogits, True
        per_sample = self.loss.compute(y, out)
        return per_sample, self.loss.gradient(y, out), False

    def _weighted_loss_and_output_gradient(self, y, out):
        """Keras's sample weighting: each sample's loss and gradient times its weight (the
        loss still averaged over the batch size)."""
        per_sample, grad, fused = self._loss_and_output_gradient(y.targets, out)
        if isinstance(grad, list):
            raise NotImplementedError("sample_weight and class_weight on a model with "
                                      "several outputs are not implemented")
        return _times_sample_weights(per_sample, y.weights), \
            _times_sample_weights(grad, y.weights), fused

    def _backward(self, grad, from_logits):
        last = len(self._layers) - 1
        for i in range(last, -1, -1):
            layer = self._layers[i]
            if i == last and from_logits:
                grad = layer.backward_pre_activation(grad)
            else:
                grad = layer.backward(grad)
            if self._gradient_reduction is not None:  # data parallel: send what is done
                self._gradient_reduction.layer_done(layer)
            if grad is None:
                break
        return grad

    # the data-parallel gradient reduction of the step running (minidl.distribute)
    _gradient_reduction = None

    def _train_step(self, x, y, global_rows=None):
        with interrupts_deferred(), self._state_lock, self._memory:
            return self._train_step_locked(x, y, global_rows)

    def _train_step_locked(self, x, y, global_rows=None):
        # the forward pass updates state that is not trained (batch-norm moving
        # statistics): a step that fails after it puts that state back, so that a failed
        # step is absent (the optimizer's update is whole or absent on its own)
        restore = self._state_snapshot()
        parallel = distribute.active() if global_rows is not None else None
        reduction = parallel.reduction(self) if parallel is not None else None
        try:
            variables = self.trainable_weights
            regularized = [v for v in variables if v.regularizer is not None]
            if regularized and parallel is not None:
                raise NotImplementedError("weight regularizers under DataParallel are not "
                                          "implemented (each rank would add the penalty)")
            per_sample = out = None
            if reduction is not None:
                reduction.begin()
                self._gradient_reduction = reduction
            plan = self._step_plan(x, y) if global_rows is None else None
            if plan is not None:  # forward, loss and backward as planned kernel calls
                x = adjusted_rank(x, self._build_input_shape)
                first = self._layers[0]
                x = first._convert_input(x)
                first._check_input(x)
                per_sample, out = plan.run(x, y)
            elif global_rows is None or data_adapter.num_samples(x):
                out = self._forward(x, training=True)
                per_sample, grad, from_logits = self._loss_and_output_gradient(y, out)
                if global_rows is not None:  # data parallel: see minidl.distribute
                    grad = _scaled(grad, data_adapter.num_samples(x) / global_rows)
                self._backward(grad, from_logits)
            else:  # an empty slice of a small global batch: no gradient, same collectives
                for variable in variables:
                    variable.grad = None
            if regularized:  # the penalties of the weights before the update, and theirs
                per_sample = self._with_penalty(per_sample, regularized)
                for variable in regularized:
                    if variable.grad is not None:
                        variable.grad = ops.add(variable.grad,
                                                variable.regularizer.gradient(variable.value))
            self._gradient_reduction = None
            if reduction is not None:
                reduction.finish()
            elif parallel is not None:
                parallel.reduce_gradients(variables)
            if plan is None or not plan.updated:
                self.optimizer.apply_gradients([(v.grad, v) for v in variables])
        except BaseException:
            self._gradient_reduction = None
            restore()
            raise
        return per_sample, out

    def _state_snapshot(self):
        """A function that puts back the state a forward pass changes besides the
        trained weights: batch-norm moving statistics and the layers' random generators
        (seeded dropout masks). A failed step calls it, so that it is absent."""
        state = [(v, v.value.copy()) for v in self.weights if not v.trainable]
        generators = [(g, g.bit_generator.state) for g in self._layer_generators()]

        def restore():
            for variable, value in state:
                variable.value[...] = value
            for generator, generator_state in generators:
                generator.bit_generator.state = generator_state
        return restore

    def _custom_train_batch(self, x, y):
        """One batch through the model's own ``train_step``; its logs."""
        with interrupts_deferred(), self._state_lock, self._memory:
            restore = self._state_snapshot()
            try:
                return self._run_custom_step("train_step", x, y)
            except BaseException:
                restore()
                raise

    @property
    def losses(self):
        """The weight regularizers' current penalties, one float per regularized weight
        (``keras.Model.losses``); ``fit`` adds their sum to the loss it trains on."""
        regularized = [v for v in self.trainable_weights if v.regularizer is not None]
        if autodiff.recording() is not None:  # penalties a tape differentiates
            return [autodiff.regularization_penalty(v) for v in regularized]
        return [v.regularizer(v.value) for v in regularized]

    def _with_penalty(self, per_sample, regularized=None):
        """The per-sample losses plus the weight regularizers' total penalty (Keras
        reports and trains on the sum); unchanged when no weight is regularized."""
        if regularized is None:
            regularized = [v for v in self.trainable_weights if v.regularizer is not None]
        if not regularized:
            return per_sample
        return backend.to_numpy(per_sample) + sum(v.regularizer(v.value) for v in regularized)

    # planned training steps (minidl.models.step_plan); False trains through the layers
    use_step_plan = True

    def _step_plan(self, x, y):
        """The plan of this step's forward, loss and backward, or None when the step must
        run through the layers (see minidl.models.step_plan for what is planned)."""
        if not self.use_step_plan or self.device != "cpu" or self._recorded_outputs is not None \
                or type(self)._forward is not Sequential._forward or not self._layers \
                or isinstance(y, data_adapter.WeightedTargets) or not hasattr(x, "shape"):
            return None
        dtype = self._layers[0].dtype
        key = step_plan.StepPlan.key_of(self, x.shape, dtype)
        cached = self._cached_plan
        if cached is None or cached[0] != key:
            plan = None
            if step_plan.StepPlan.plannable(self):
                try:
                    plan = step_plan.StepPlan(self, x.shape, dtype)
                except step_plan.Unplannable:
                    plan = None
            cached = self._cached_plan = (key, plan)
        return cached[1]

    _cached_plan = None  # (key, StepPlan or None) of the last batch shape

    def _layer_generators(self):
        """The random generators that layers own (``Dropout(seed=...)``)."""
        return [layer._generator for layer in self._layers
                if getattr(layer, "_generator", None) is not None]

    def _update_metrics(self, loss_tracker, per_sample, y, out, metrics=None):
        per_sample = backend.to_numpy(per_sample)
        loss_tracker.update_state(float(np.mean(per_sample)), sample_weight=len(per_sample))
        weights = None
        if isinstance(y, data_adapter.WeightedTargets):
            y, weights = y.targets, y.weights
        for metric in self._resolve_metrics() if metrics is None else metrics:
            metric.update_state(y, out, sample_weight=weights)

    def _metric_logs(self, loss_tracker, prefix="", metrics=None):
        metrics = self._resolve_metrics() if metrics is None else metrics
        if distribute.active() is not None:
            return self._reduced_metric_logs(loss_tracker, prefix, metrics)
        logs = {prefix + "loss": float(loss_tracker.result())}
        for metric in metrics:
            logs[prefix + metric.name] = float(metric.result())
        return logs

    def _reduced_metric_logs(self, loss_tracker, prefix, metrics):
        """Logs of the loss and metrics over every rank: their totals and counts summed
        (exact: the same logs on every rank)."""
        trackers = [loss_tracker] + list(metrics)
        for tracker in trackers:
            if not hasattr(tracker, "total") or not hasattr(tracker, "count"):
                raise NotImplementedError(f"metric '{tracker.name}' keeps no total and count "
                                          f"that data-parallel training could add up")
        sums = distribute.active().reduce_totals(
            [value for t in trackers for value in (t.total, t.count)])
        names = ["loss"] + [metric.name for metric in metrics]
        return {prefix + name: float(sums[2 * i] / sums[2 * i + 1]) if sums[2 * i + 1]
                else 0.0 for i, name in enumerate(names)}

    def _reset_metrics(self, loss_tracker, metrics=None):
        loss_tracker.reset_state()
        for metric in self._resolve_metrics() if metrics is None else metrics:
            metric.reset_state()

    # ---------------------------------------------------------------- fit
    @_exclusive_training
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train the model; returns a History whose ``.history`` holds ``loss``, the
        metrics and their ``val_`` twins per epoch.

        x/y are arrays, or x is a generator/iterator/Sequence yielding ``(x, y)`` batches
        (e.g. ``ImageDataGenerator.flow``). The training loss is the running mean over
        the epoch in training mode; validation runs in inference mode. Ctrl-C ends
        training after the current step and returns the History so far.

        Args:
            x (array-like or list of numpy.ndarray or dict or iterator or Sequence or None):
                the inputs: an array whose rows are samples; for several inputs, a list
                of arrays in the order of the model's inputs or a dict by input layer
                name; or a generator, iterator or Sequence-like object yielding
                ``(x, y)`` or ``(x, y, None)`` batches, such as
                ``ImageDataGenerator.flow``.
            y (array-like or list of numpy.ndarray or None): the targets, one row per sample
                (a list for several outputs); None when ``x`` yields the batches.
            batch_size (int or None): samples per batch for arrays (default 32); unused
                when ``x`` yields the batches.
            epochs (int): the epoch to stop at: training runs epochs ``initial_epoch``
                to ``epochs - 1``.
            verbose (str or int): ``'auto'`` (as 1), 0 (silent), 1 (a progress bar) or 2
                (one line per epoch).
            callbacks (list of Callback or None): ``minidl.callbacks`` objects called
                during training (a ``History`` is always added).
            validation_split (float): the fraction in [0, 1) of the arrays held out for
                validation: their last rows, taken before any shuffling (arrays only);
                when not 0, it is used instead of ``validation_data``.
            validation_data (tuple or iterator or Sequence or None): ``(x_val, y_val)``,
                ``(x_val, y_val, sample_weight_val)`` or a batch source, evaluated at
                the end of every ``validation_freq``-th epoch; ignored when
                ``validation_split`` is not 0 (the split is validated instead).
            shuffle (bool): reshuffle the arrays before each epoch (a batch source is
                read as it comes).
            class_weight (dict or None): ``{class index: weight}``: each sample's loss
                is multiplied by the weight of its class (arrays only).
            sample_weight (array-like or None): one weight >= 0 per sample, multiplying
                its loss (arrays only).
            initial_epoch (int): the epoch to start at (to resume a training).
            steps_per_epoch (int or None): batches per epoch; None: one pass over the
                arrays (or the length of a Sequence); required for a generator without
                a length. More steps than a pass holds pass over the arrays again.
            validation_steps (int or None): batches of ``validation_data`` per
                validation (None: all of it).
            validation_batch_size (int or None): the batch size of validation (None:
                ``batch_size``).
            validation_freq (int): validate after every ``validation_freq`` epochs.
        """
        self._require_compiled("fit", "train_step")
        custom = self._custom_step("train_step")
        data_adapter.check_fit_arguments(x, y, epochs, initial_epoch, steps_per_epoch,
                                         validation_split, validation_data, validation_steps,
                                         validation_batch_size, validation_freq, verbose,
                                         targets_required=not custom)
        y = self._weighted_targets(x, y, sample_weight, class_weight, "fit")
        verbose = _verbosity(verbose)
        parallel = distribute.active()
        if parallel is not None:  # the same order on every rank; rank 0 prints
            parallel.synchronize_shuffling()
            verbose = verbose if distribute.is_root() else 0
        x, y, validation_data = self._split_validation(x, y, validation_split,
                                                       validation_data)
        train = data_adapter.make_batches(x, y, batch_size, shuffle, steps_per_epoch, "fit",
                                          steps_name="steps_per_epoch", repeat=True)
        callback_list = callbacks_module.CallbackList(
            callbacks, add_history=True, model=self,
            params={"epochs": epochs, "steps": train.steps, "verbose": verbose})
        loss_tracker = metrics_module.Mean(name="loss")
        self.stop_training = False
        callback_list.on_train_begin()
        with _InterruptGuard() as guard:
            for epoch in range(initial_epoch, epochs):
                self._reset_metrics(loss_tracker)
                if custom:
                    self.reset_metrics()
                callback_list.on_epoch_begin(epoch)
                progbar = self._progbar(train.steps, verbose, epoch, epochs,
                                        self._logged_names(custom))
                logs, steps_done = {}, 0  # the epoch's logs (the last ones go to train_end)
                for step, (xb, yb) in enumerate(train.epoch()):
                    callback_list.on_train_batch_begin(step)
                    if custom:  # the step calls the model when it needs to (a GAN never does)
                        logs = self._custom_train_batch(xb, yb)
                    else:
                        self._ensure_built(xb)
                        if parallel is not None:  # this rank's slice of the global batch
                            if step == 0 and epoch == initial_epoch:
                                distribute.broadcast_weights(self)
                            rows = data_adapter.num_samples(xb)
                            xb, yb = parallel.shard(xb), parallel.shard(yb)
                            per_sample, out = self._train_step(xb, yb, global_rows=rows)
                        else:
                            per_sample, out = self._train_step(xb, yb)
                        if per_sample is not None:
                            self._update_metrics(loss_tracker, per_sample, yb, out)
                        logs = self._metric_logs(loss_tracker)
                    callback_list.on_train_batch_end(step, logs)
                    steps_done = step + 1
                    if progbar is not None:
                        progbar.update(steps_done, list(logs.items()), finalize=False)
                    if parallel is not None:  # a Ctrl-C or a stop on any rank: on all
                        agreed = parallel.reduce_totals([guard.interrupted,
                                                         self.stop_training])
                        guard.interrupted, self.stop_training = bool(agreed[0]), \
                            bool(agreed[1])
                    if self.stop_training or guard.interrupted:
                        break
                if parallel is not None and not parallel.sync_batchnorm:
                    parallel.average_moving_statistics(self)
                if validation_data is not None and not guard.interrupted and \
                        (epoch + 1) % validation_freq == 0:
                    logs.update(self._validate(validation_data, validation_batch_size or
                                               batch_size, validation_steps, callback_list))
                if progbar is not None:
                    progbar.update(steps_done, list(logs.items()), finalize=True)
                callback_list.on_epoch_end(epoch, logs)
                if guard.interrupted:
                    print("\nTraining interrupted (Ctrl-C): returning the History so far.")
                    break
                if self.stop_training:
                    break
        callback_list.on_train_end(dict(logs) if steps_done else {})
        return self.history

    @staticmethod
    def _weighted_targets(x, y, sample_weight, class_weight, where):
        """``y`` with its per-sample weights attached (data_adapter.WeightedTargets), or
        ``y`` itself when no weight is given; checked at the call."""
        if sample_weight is None and class_weight is None:
            return y
        if data_adapter.is_batch_source(x):
            raise ValueError(f"{where}: sample_weight and class_weight need array inputs; a "
                             f"generator yields (x, y, sample_weight) batches instead")
        _, y = data_adapter.check_arrays(x, y, where)
        weights = data_adapter.sample_weights(y, sample_weight, class_weight, where)
        return data_adapter.WeightedTargets(y, weights)

    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1,
                      callbacks=None, validation_data=None, validation_steps=None,
                      initial_epoch=0, **kwargs):
        """Deprecated alias of :meth:`fit` for a generator (old Keras code).

        Args:
            generator (iterator or Sequence): yields ``(x, y)`` batches, as ``fit``'s
                ``x``.
            steps_per_epoch (int or None): batches per epoch (required for a generator
                without a length).
            epochs (int): the epoch to stop at, as in ``fit``.
            verbose (str or int): ``'auto'``, 0, 1 or 2, as in ``fit``.
            callbacks (list of Callback or None): as in ``fit``.
            validation_data (tuple or iterator or Sequence or None): as in ``fit``.
            validation_steps (int or None): as in ``fit``.
            initial_epoch (int): as in ``fit``.
            **kwargs: Keras 2's ``class_weight``, ``max_queue_size``, ``workers``,
                ``use_multiprocessing`` and ``shuffle`` are accepted and ignored; any
                other keyword raises TypeError.
        """
        warnings.warn("Model.fit_generator is deprecated; use Model.fit, which accepts "
                      "generators.", DeprecationWarning, stacklevel=2)
        for name in ("class_weight", "max_queue_size", "workers", "use_multiprocessing",
                     "shuffle"):
            kwargs.pop(name, None)
        if kwargs:
            raise TypeError(f"fit_generator: unexpected keyword argument(s) "
                            f"{', '.join(sorted(kwargs))}")
        return self.fit(generator, epochs=epochs, verbose=verbose, callbacks=callbacks,
                        validation_data=validation_data, validation_steps=validation_steps,
                        initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch)

    def _split_validation(self, x, y, validation_split, validation_data):
        if validation_split == 0:
            return x, y, validation_data
        if data_adapter.is_batch_source(x):
            raise ValueError("fit: validation_split needs array inputs, not a generator")
        x, y = data_adapter.check_arrays(x, y, "fit")
        n = data_adapter.num_samples(x)
        split_at = int(n * (1 - validation_split))
        if split_at == 0 or split_at == n:
            raise ValueError(f"fit: validation_split={validation_split} leaves no training "
                             f"or no validation samples out of {n}")
        train, held_out = slice(None, split_at), slice(split_at, None)
        take = data_adapter.take
        return take(x, train), take(y, train), (take(x, held_out), take(y, held_out))

    def _validate(self, validation_data, batch_size, steps, callback_list):
        if data_adapter.is_batch_source(validation_data):
            vx, vy = validation_data, None
        elif isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3):
            vx, vy = validation_data[0], validation_data[1]
            if len(validation_data) == 3:  # (x_val, y_val, sample_weight_val)
                vy = self._weighted_targets(vx, vy, validation_data[2], None, "fit")
        else:
            raise ValueError("fit: validation_data must be (x_val, y_val) or a generator")
        results = self.evaluate(vx, vy, batch_size=batch_size, steps=steps, verbose=0,
                                return_dict=True, callbacks=callback_list)
        return {"val_" + key: value for key, value in results.items()}

    @staticmethod
    def _progbar(steps, verbose, epoch, epochs, names):
        """The epoch's progress bar; the logged values (``names``) are already running
        means, so the bar shows them as given."""
        if verbose == 0:
            return None
        if verbose == 1:
            print(f"Epoch {epoch + 1}/{epochs}")
        return Progbar(steps, verbose=verbose, stateful_metrics=names)

    # ---------------------------------------------------------------- evaluate / predict
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Loss and metrics in inference mode: ``loss`` or ``[loss, *metrics]`` (or a
        dict with ``return_dict=True``).

        Args:
            x (array-like or list of numpy.ndarray or dict or iterator or Sequence or None):
                the inputs: an array whose rows are samples; for several inputs, a list
                of arrays in the order of the model's inputs or a dict by input layer
                name; or a generator, iterator or Sequence-like object yielding
                ``(x, y)`` batches.
            y (array-like or list of numpy.ndarray or None): the targets (required with
                arrays); None when ``x`` yields the batches.
            batch_size (int or None): samples per batch for arrays (default 32).
            verbose (str or int): ``'auto'`` (as 1), 0 (silent), 1 (a progress bar) or 2
                (only a final line).
            sample_weight (array-like or None): one weight >= 0 per sample, multiplying
                its loss (arrays only).
            steps (int or None): the most batches to evaluate (None: all; required for
                a generator without a length).
            callbacks (list of Callback or None): callbacks whose ``on_test_*`` methods
                are called.
            return_dict (bool): return ``{name: value}`` instead of a value or list.
        """
        self._require_compiled("evaluate", "test_step")
        custom = self._custom_step("test_step")
        data_adapter.check_verbose(verbose, "evaluate")
        data_adapter.check_targets(x, y, "evaluate")
        y = self._weighted_targets(x, y, sample_weight, None, "evaluate")
        if distribute.active() is not None and not distribute.is_root():
            verbose = 0
        batches = data_adapter.make_batches(x, y, batch_size, False, steps, "evaluate")
        loss_tracker = metrics_module.Mean(name="loss")
        metrics = self._fresh_metrics()
        self._reset_metrics(loss_tracker, metrics)
        if custom:
            self.reset_metrics()
        progbar = Progbar(batches.steps, verbose=_verbosity(verbose),
                          stateful_metrics=self._logged_names(custom)) \
            if _verbosity(verbose) else None
        logs = {}
        hooks = self._callback_list(callbacks, batches.steps, verbose)
        parallel = distribute.active()
        hooks.on_test_begin()
        for step, (xb, yb) in enumerate(batches.epoch()):
            if yb is None:
                raise ValueError("evaluate: targets (y) are required")
            hooks.on_test_batch_begin(step)
            if parallel is not None:  # this rank's slice; the totals are summed
                xb, yb = parallel.shard(xb), parallel.shard(yb)
            if custom:
                batch_logs = logs = self._run_custom_step("test_step", xb, yb)
            elif data_adapter.num_samples(xb):
                out = self._forward(xb, training=False)
                per_sample, _, _ = self._loss_and_output_gradient(yb, out)
                per_sample = self._with_penalty(per_sample)
                self._update_metrics(loss_tracker, per_sample, yb, out, metrics)
            # read out (a copy from the GPU there) only when someone looks; with several
            # ranks always (a collective every rank makes)
            if not custom:
                batch_logs = self._metric_logs(loss_tracker, "", metrics) \
                    if parallel is not None or hooks.callbacks or progbar is not None else {}
            hooks.on_test_batch_end(step, batch_logs)
            if progbar is not None:
                progbar.update(step + 1, list(batch_logs.items()))
        if not custom:
            logs = self._metric_logs(loss_tracker, "", metrics)
        hooks.on_test_end(dict(logs))
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs in inference mode, for all samples, as one array
        (``steps`` caps the number of batches: no sample is predicted twice).

        Args:
            x (array-like or list of numpy.ndarray or dict or iterator or Sequence):
                the inputs: an array whose rows are samples; for several inputs, a list
                of arrays in the order of the model's inputs or a dict by input layer
                name; or a generator, iterator or Sequence-like object yielding batches
                (``x`` or ``(x, y)``; the targets are ignored).
            batch_size (int or None): samples per batch for arrays (default 32).
            verbose (str or int): ``'auto'`` (as 1), 0 (silent), 1 (a progress bar) or 2
                (only a final line).
            steps (int or None): the most batches to predict (None: all; required for a
                generator without a length).
            callbacks (list of Callback or None): callbacks whose ``on_predict_*``
                methods are called.
        """
        data_adapter.check_verbose(verbose, "predict")
        parallel = distribute.active()
        if parallel is not None:  # each rank its contiguous share, gathered in order
            return self._predict_sharded(parallel, x, batch_size, verbose, steps, callbacks)
        batches = data_adapter.make_batches(x, None, batch_size, False, steps, "predict")
        outputs = []
        progbar = Progbar(batches.steps, verbose=_verbosity(verbose)) \
            if _verbosity(verbose) else None
        hooks = self._callback_list(callbacks, batches.steps, verbose)
        hooks.on_predict_begin()
        plan = None  # the folded inference, made once the model is built
        for step, (xb, _) in enumerate(batches.epoch()):
            hooks.on_predict_batch_begin(step)
            if plan is None and self.built:
                plan = self._inference_plan()
            out = self._run_custom_step("predict_step", xb, None) \
                if self._custom_step("predict_step") else \
                self._forward(xb, training=False, plan=plan)
            outputs.append(_on_host(out))
            hooks.on_predict_batch_end(step, {"outputs": outputs[-1]})
            if progbar is not None:
                progbar.update(step + 1)
        hooks.on_predict_end()
        if not outputs:
            raise ValueError("predict: no batch was produced")
        if isinstance(outputs[0], list):  # several outputs: one array each
            return [np.concatenate(parts, axis=0) for parts in zip(*outputs)]
        return np.concatenate(outputs, axis=0)

    def _predict_sharded(self, parallel, x, batch_size, verbose, steps, callbacks):
        """``predict`` over several ranks: this rank's rows, then every rank's, in order."""
        if data_adapter.is_batch_source(x) or data_adapter.is_structure(x) or \
                steps is not None:
            raise NotImplementedError("predict under DataParallel takes one array and no "
                                      "steps (generators and several inputs: predict "
                                      "without the distribution)")
        x, _ = data_adapter.check_arrays(x, None, "predict")
        self._ensure_built(x[:1])
        local = parallel.shard(x)
        if len(local):
            with _no_distribution():
                out = self.predict(local, batch_size=batch_size, callbacks=callbacks,
                                   verbose=verbose if distribute.is_root() else 0)
        else:
            out = np.empty((0,) + tuple(self._output_shapes[-1][1:]), dtype=np.float32)
        return parallel.gather_rows(out)

    @_exclusive_training
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One training step on one batch; returns the loss (and the metrics) of it.

        Args:
            x (array-like or list of numpy.ndarray or dict): the batch's inputs (as
                ``fit``'s array ``x``).
            y (array-like or list of numpy.ndarray or None): the batch's targets (required:
                None raises ValueError).
            sample_weight (array-like or None): one weight >= 0 per sample.
            class_weight (dict or None): ``{class index: weight}``.
            return_dict (bool): return ``{name: value}`` instead of a value or list.
        """
        self._require_compiled("train_on_batch")
        data_adapter.check_targets(x, y, "train_on_batch")
        x, y = data_adapter.check_arrays(x, y, "train_on_batch")
        y = self._weighted_targets(x, y, sample_weight, class_weight, "train_on_batch")
        self._ensure_built(x)
        loss_tracker = metrics_module.Mean(name="loss")
        self._reset_metrics(loss_tracker)
        per_sample, out = self._train_step(x, y)
        self._update_metrics(loss_tracker, per_sample, y, out)
        return self._batch_result(loss_tracker, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) of one batch in inference mode.

        Args:
            x (array-like or list of numpy.ndarray or dict): the batch's inputs (as
                ``fit``'s array ``x``).
            y (array-like or list of numpy.ndarray or None): the batch's targets (required:
                None raises ValueError).
            sample_weight (array-like or None): one weight >= 0 per sample.
            return_dict (bool): return ``{name: value}`` instead of a value or list.
        """
        self._require_compiled("test_on_batch")
        data_adapter.check_targets(x, y, "test_on_batch")
        x, y = data_adapter.check_arrays(x, y, "test_on_batch")
        y = self._weighted_targets(x, y, sample_weight, None, "test_on_batch")
        loss_tracker = metrics_module.Mean(name="loss")
        metrics = self._fresh_metrics()
        self._reset_metrics(loss_tracker, metrics)
        out = self._forward(x, training=False)
        per_sample, _, _ = self._loss_and_output_gradient(y, out)
        per_sample = self._with_penalty(per_sample)
        self._update_metrics(loss_tracker, per_sample, y, out, metrics)
        return self._batch_result(loss_tracker, return_dict, metrics)

    def predict_on_batch(self, x):
        """The outputs for one batch in inference mode.

        Args:
            x (array-like or list of numpy.ndarray or dict): the batch's inputs (as
                ``predict``'s array ``x``).
        """
        x, _ = data_adapter.check_arrays(x, None, "predict_on_batch")
        out = self._forward(x, training=False)
        return _on_host(out)

    def _batch_result(self, loss_tracker, return_dict, metrics=None):
        logs = self._metric_logs(loss_tracker, "", metrics)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    # ---------------------------------------------------------------- config and saving
    def get_config(self):
        """Name, layers (serialized) and the build input shape."""
        layers = [serialize_layer(layer) for layer in self._layers]
        if self._input_layer is not None:
            layers.insert(0, serialize_layer(self._input_layer))
        shape = self._build_input_shape
        return {"name": self.name, "trainable": self._trainable, "layers": layers,
                "build_input_shape": None if shape is None else list(shape)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new (built, if the config has a build shape) model from get_config()."""
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for layer_config in config.get("layers", []):
            model.add(deserialize_layer(layer_config, custom_objects))
        shape = config.get("build_input_shape")
        if shape is not None and not model.built:
            model.build(tuple(shape))
        return model

    def save(self, filepath, overwrite=True):
        """Save config, weights and optimizer state to one ``.keras`` zip file (or an
        ``.h5``/``.hdf5`` file, Keras 2's layout), atomically (see
        :func:`minidl.saving.save_model`). Under data parallelism only rank 0 writes.

        Args:
            filepath (str or os.PathLike): the file; its name ends in ``.keras``, ``.h5``
                or ``.hdf5``.
            overwrite (bool): replace an existing file; False raises FileExistsError
                when it exists.
        """
        if distribute.active() is not None and not distribute.is_root():
            return
        with self._state_lock:
            saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights to a ``.weights.npz`` file, or to an ``.h5``/``.hdf5`` file in
        Keras 2's layout (see :mod:`minidl.hdf5`). Under data parallelism only rank 0
        writes.

        Args:
            filepath (str or os.PathLike): the file; its name ends in ``.weights.npz``,
                ``.h5`` or ``.hdf5``.
            overwrite (bool): replace an existing file; False raises FileExistsError
                when it exists.
        """
        if distribute.active() is not None and not distribute.is_root():
            return
        with self._state_lock:
            saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Load weights saved by :meth:`save_weights` or :meth:`save` (shapes checked).

        Args:
            filepath (str or os.PathLike): a ``.weights.npz`` file, an HDF5 file
                (Keras 2's layout) or a ``.keras`` model file.
        """
        saving.load_weights(self, filepath)


saving.register_model_class(Sequential)


def adjusted_rank(x, expected):
    """``x`` with a trailing axis of 1 added or dropped where its rank is one off a model
    input's ``expected`` shape (Keras 3's: ``(n,)`` data for an input of shape ``(1,)``)."""
    ndim = getattr(x, "ndim", None)
    if expected is None or ndim is None:
        return x
    if ndim == len(expected) - 1 and expected[-1] == 1:
        return x.reshape(x.shape + (1,))
    if ndim == len(expected) + 1 and x.shape[-1] == 1:
        return x.reshape(x.shape[:-1])
    return x


def _on_host(out):
    """Model outputs as NumPy arrays (a list of outputs element by element)."""
    if isinstance(out, list):
        return [backend.to_numpy(part) for part in out]
    return backend.to_numpy(out)


def _times_sample_weights(array, weights):
    """``array`` (per-sample values along axis 0, on any device) times one weight per
    sample (Keras's sample weighting)."""
    column = np.asarray(weights, dtype=np.float64).reshape((-1,) + (1,) * (array.ndim - 1))
    return ops.multiply(array, np.broadcast_to(column, array.shape))


# wraps a Sequential model added to another one (set by minidl.models.nested, which
# builds on this module)
_model_as_layer = None


def register_model_as_layer(factory):
    """Let ``Sequential.add`` take a model: ``factory(model)`` returns the layer that
    stands for it."""
    global _model_as_layer
    _model_as_layer = factory


def _type_name(layer):
    """The class name a summary shows (a nested model's own: ``Sequential``)."""
    return getattr(layer, "_keras_class_name", type(layer).__name__)
