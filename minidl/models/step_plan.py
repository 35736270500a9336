"""A planned training step: the forward pass, the fused softmax cross-entropy and the
backward pass of a ``Sequential`` model as one step program of kernel calls, recorded
once per input shape and run by one call from Python.

Every training step through the layers pays, per op, for argument checks, backend
dispatch, output allocation and the layers' and model's Python; for a small network
(LeNet-5: about 40 kernel calls a step) that is a large share of the step. A plan checks
the layers, shapes and dtypes once, allocates every activation and gradient buffer once,
and records the same kernel calls, with the same arguments, in the same order as the
layers' ``call``/``backward`` and the loss make into a ``minidl._C.Program``; each step
then checks its batch and targets and runs the whole program without returning to
Python between kernels -- so a planned step gives bit-identical losses, gradients and
weights (``tests/test_step_plan.py``). The layers stay the source of truth: the plan
reads their configuration and weights and is rebuilt when the model, the loss, the
batch shape or a weight's array changes.

Planned: ``Conv2D`` (activations fused in the convolution), ``Dense``, ``Activation``
(relu, sigmoid, tanh), ``BatchNormalization`` over the last axis, ``MaxPooling2D``,
``AveragePooling2D`` and ``Flatten``, ending in a softmax ``Dense`` layer trained with
categorical or sparse categorical cross-entropy (the fused softmax). Anything else -- a
user layer, dropout, another loss, sample weights, a layer that is not trainable,
data-parallel training, layer-statistics recording, a device other than the CPU --
trains through the layers as before.

From the second step on (once the optimizer's slots exist), the program also makes the
optimizer's update: SGD, RMSprop, Adam and AdamW record their multi-tensor kernels on the
weights, slots and gradient buffers after the backward pass, reading the learning rate
and the step number from a small array that each step fills after checking them as
``apply_gradients`` does; forward, loss, backward and update are then one call. An
optimizer that clips gradients, a constraint, a regularizer, a weight decay outside the
kernel, or an optimizer class from outside minidl is applied from Python after the
program, as before; a changed configuration or a replaced slot array records the
program again (``Optimizer._program_signature``).
"""
import numpy as np

from minidl import backend, losses
from minidl.layers.convolutional import _FUSED, Conv2D
from minidl.layers.core import Activation, Dense, Flatten, InputLayer
from minidl.layers.normalization import BatchNormalization
from minidl.layers.pooling import AveragePooling2D, MaxPooling2D
from minidl.ops._checks import class_labels



class Unplannable(Exception):
    """A layer's shapes fall outside what the plan computes (the step then runs through
    the layers)."""


class _Node:
    """One layer of the plan: its buffers, and the recording of its forward and backward
    kernel calls into the plan's program (``forward``/``backward`` record, they do not
    compute; they return the buffer their calls write)."""

    def __init__(self, layer, input_shape, dtype, kernels, program):
        self.layer, self.input_shape, self.dtype = layer, input_shape, dtype
        self.k, self.p = kernels, program
        self.output_shape = tuple(layer.compute_output_shape(input_shape))
        self.x = self.y = None

    def empty(self, shape):
        return np.empty(shape, dtype=self.dtype)

    def gradients(self):
        """(variable, gradient buffer) of the layer's trained weights."""
        return []


class _ConvNode(_Node):
    def __init__(self, layer, input_shape, dtype, kernels, program):
        super().__init__(layer, input_shape, dtype, kernels, program)
        self.code = kernels.ACTIVATION_CODES[layer.activation]
        self.y, self.dz = self.empty(self.output_shape), self.empty(self.output_shape)
        self.dx = self.empty(input_shape) if layer.input_gradient else None
        self.dw = self.empty(layer.kernel.shape)
        self.db = self.empty(layer.bias.shape) if layer.use_bias else None
        self.geometry = (*layer.strides, layer.padding)

    def forward(self, x, pool=None):
        """Record the forward pass; given the 2x2 average pooling node ``pool`` after it,
        that pooling too, in the same call (pooled from the rows just computed: the bits of
        the two passes; the unpooled output kept for the backward pass)."""
        layer = self.layer
        self.x = x
        if pool is not None:
            pool.x = self.y
        self.k.conv2d_forward(self.y if pool is None else pool.y, x, layer.kernel.value,
                              layer.bias.value if layer.use_bias else None, *self.geometry,
                              self.code, program=self.p, pool=0 if pool is None else 2,
                              unpooled=None if pool is None else self.y)
        return self.y if pool is None else pool.y

    # set when the batch norm or pooling after the layer applies the activation's
    # derivative in its own backward pass (the gradient it returns is then already the
    # pre-activation one)
    activation_done = False

    def backward(self, dy):
        dz = dy
        if self.code and not self.activation_done:
            self.k.activation_backward(self.dz.reshape(-1), dy.reshape(-1), self.y.reshape(-1),
                                       self.code, program=self.p)
            dz = self.dz
        if self.dx is not None:
            self.k.conv2d_backward_input(self.dx, dz, self.layer.kernel.value, *self.geometry,
                                         program=self.p)
        self.k.conv2d_backward_weight(self.dw, self.db, dz, self.x, *self.geometry,
                                      program=self.p)
        return self.dx

    def gradients(self):
        pairs = [(self.layer.kernel, self.dw)]
        return pairs + ([(self.layer.bias, self.db)] if self.db is not None else [])


class _DenseNode(_Node):
    def __init__(self, layer, input_shape, dtype, kernels, program):
        super().__init__(layer, input_shape, dtype, kernels, program)
        if len(input_shape) != 2:
            raise Unplannable(f"Dense '{layer.name}' on a rank-{len(input_shape)} input")
        rows, units = self.output_shape
        self.z = self.empty((rows, units))
        self.logits = self.empty((rows, units)) if layer.use_bias else self.z
        # softmax (the last layer only): the plan points y at the fused loss's probabilities
        self.y = self.empty((rows, units)) if layer.activation not in ("linear", "softmax") \
            else self.logits
        self.dz = self.empty((rows, units))
        self.dx, self.dw = self.empty(input_shape), self.empty(layer.kernel.shape)
        self.db = self.empty((1, units)) if layer.use_bias else None

    def forward(self, x):
        layer, k, p = self.layer, self.k, self.p
        self.x = x
        k.gemm(False, False, x, layer.kernel.value, self.z, program=p)
        if layer.use_bias:
            k.bias_add(self.logits, self.z, layer.bias.value, program=p)
        if layer.activation not in ("linear", "softmax"):
            k.activation_forward(self.y.reshape(-1), self.logits.reshape(-1),
                                 k.ACTIVATION_CODES[layer.activation], program=p)
        return self.y

    def backward(self, dy, pre_activation=False):
        layer, k, p = self.layer, self.k, self.p
        dz = dy
        if not pre_activation and layer.activation == "softmax":
            k.softmax_backward(self.dz, dy, self.y, program=p)
            dz = self.dz
        elif not pre_activation and layer.activation != "linear":
            k.activation_backward(self.dz.reshape(-1), dy.reshape(-1), self.y.reshape(-1),
                                  k.ACTIVATION_CODES[layer.activation], program=p)
            dz = self.dz
        k.gemm(False, True, dz, layer.kernel.value, self.dx, program=p)
        k.gemm(True, False, self.x, dz, self.dw, program=p)
        if self.db is not None:
            k.reduce_sum(self.db, dz.reshape(1, *dz.shape), program=p)
        return self.dx

    def gradients(self):
        pairs = [(self.layer.kernel, self.dw)]
        return pairs + ([(self.layer.bias, self.db.reshape(-1))] if self.db is not None else [])


class _ActivationNode(_Node):
    def __init__(self, layer, input_shape, dtype, kernels, program):
        super().__init__(layer, input_shape, dtype, kernels, program)
        self.code = kernels.ACTIVATION_CODES[layer.activation]
        self.y, self.dx = self.empty(input_shape), self.empty(input_shape)

    def forward(self, x):
        self.k.activation_forward(self.y.reshape(-1), x.reshape(-1), self.code, program=self.p)
        return self.y

    def backward(self, dy):
        self.k.activation_backward(self.dx.reshape(-1), dy.reshape(-1), self.y.reshape(-1),
                                   self.code, program=self.p)
        return self.dx


class _BatchNormNode(_Node):
    def __init__(self, layer, input_shape, dtype, kernels, program):
        super().__init__(layer, input_shape, dtype, kernels, program)
        channels = input_shape[-1]
        self.rows = int(np.prod(input_shape[:-1]))
        self.y, self.dx = self.empty(input_shape), self.empty(input_shape)
        self.mean, self.var = self.empty(channels), self.empty(channels)
        self.dscale, self.doffset = self.empty(channels), self.empty(channels)

    def _gamma_beta(self):
        layer = self.layer
        return (None if layer.gamma is None else layer.gamma.value,
                None if layer.beta is None else layer.beta.value)

    def forward(self, x):
        layer = self.layer
        self.x2d = x.reshape(self.rows, -1)
        gamma, beta = self._gamma_beta()
        self.k.batchnorm_forward_train(self.y.reshape(self.rows, -1), self.mean, self.var,
                                       layer.moving_mean.value, layer.moving_variance.value,
                                       self.x2d, gamma, beta, layer.epsilon, layer.momentum,
                                       program=self.p)
        return self.y

    def backward(self, dy, activation=0):
        """Record the backward pass; ``activation``: the code of the activation whose
        output the batch norm normalizes, whose derivative it then applies too."""
        layer = self.layer
        self.k.batchnorm_backward_train(self.dx.reshape(self.rows, -1), self.dscale,
                                        self.doffset, dy.reshape(self.rows, -1), self.x2d,
                                        self.mean, self.var, self._gamma_beta()[0],
                                        layer.epsilon, program=self.p, activation=activation)
        return self.dx

    def gradients(self):
        layer = self.layer
        return ([(layer.gamma, self.dscale)] if layer.gamma is not None else []) + \
            ([(layer.beta, self.doffset)] if layer.beta is not None else [])


class _PoolNode(_Node):
    def __init__(self, layer, input_shape, dtype, kernels, program):
        super().__init__(layer, input_shape, dtype, kernels, program)
        self.y, self.dx = self.empty(self.output_shape), self.empty(input_shape)
        self.argmax = np.empty(self.output_shape, np.int64) \
            if isinstance(layer, MaxPooling2D) else None
        self.geometry = (layer.pool_size, layer.strides, layer.padding)
        # a convolution right before it can pool in its own call (_ConvNode.forward)
        self.average_2x2 = self.argmax is None and self.geometry == ((2, 2), (2, 2), "valid")

    def forward(self, x):
        self.x = x
        if self.argmax is not None:
            self.k.maxpool2d_forward(self.y, self.argmax, x, *self.geometry, program=self.p)
        else:
            self.k.avgpool2d_forward(self.y, x, *self.geometry, program=self.p)
        return self.y

    def backward(self, dy, activation=0):
        """Record the backward pass; ``activation``: the code of the activation whose
        output the pooling's input is, whose derivative it then applies too."""
        y = self.x if activation else None
        if self.argmax is not None:
            self.k.maxpool2d_backward(self.dx, dy, self.argmax, *self.geometry, program=self.p,
                                      y=y, activation=activation)
        else:
            self.k.avgpool2d_backward(self.dx, dy, *self.geometry, program=self.p, y=y,
                                      activation=activation)
        return self.dx


class _FlattenNode(_Node):
    def forward(self, x):
        return x.reshape(self.output_shape)

    def backward(self, dy):
        return dy.reshape(self.input_shape)


_NODES = {Conv2D: _ConvNode, Dense: _DenseNode, Activation: _ActivationNode,
          BatchNormalization: _BatchNormNode, MaxPooling2D: _PoolNode,
          AveragePooling2D: _PoolNode, Flatten: _FlattenNode}


def _plannable(layer, last):
    """Whether the plan computes this layer exactly as its own call/backward does."""
    node = _NODES.get(type(layer))
    if node is None or not layer.trainable:
        return False
    if isinstance(layer, Conv2D):
        return layer.activation in _FUSED
    if isinstance(layer, Dense):
        return layer.activation in _FUSED or (last and layer.activation == "softmax")
    if isinstance(layer, Activation):
        return layer.activation in ("relu", "sigmoid", "tanh")
    if isinstance(layer, BatchNormalization):
        return layer.axis in (-1, len(layer.build_input_shape) - 1)
    return True


def _plannable_loss(loss):
    if type(loss) is losses.CategoricalCrossentropy:
        return not loss.from_logits and not loss.label_smoothing and loss.axis in (-1, 1)
    return type(loss) is losses.SparseCategoricalCrossentropy and not loss.from_logits


class StepPlan:
    """Forward, fused loss and backward of one batch shape, as one step program of
    kernel calls on buffers allocated once (see the module docstring).

    Args:
        model (Sequential): a built model whose layers and loss are all plannable.
        input_shape (tuple of ints): the batch's shape.
        dtype (str or numpy.dtype): the model's dtype.
    """

    def __init__(self, model, input_shape, dtype):
        self.model, self.input_shape, self.dtype = model, tuple(input_shape), np.dtype(dtype)
        self.kernels = backend.get("cpu").kernels
        self.key = StepPlan.key_of(model, input_shape, dtype)
        self.variables = model.trainable_weights  # fixed by the key (layers, trainability)
        self._record()

    def _record(self):
        """Make the buffers and record the step's kernel calls into a new program; the
        batch, the targets and d(loss)/d(per-sample loss) are its declared inputs."""
        k = self.kernels
        self.program = program = k.Program()
        self.nodes, shape = [], self.input_shape
        for layer in self.model._layers:
            if isinstance(layer, InputLayer):
                continue
            node = _NODES[type(layer)](layer, shape, self.dtype, k, program)
            self.nodes.append(node)
            shape = node.output_shape
        rows, classes = shape
        self.loss_values = np.empty(rows, self.dtype)
        self.probs = np.empty((rows, classes), self.dtype)
        self.dlogits = np.empty((rows, classes), self.dtype)
        batch = x = np.empty(self.input_shape, self.dtype)
        sparse = isinstance(self.model.loss, losses.SparseCategoricalCrossentropy)
        target = np.empty(rows, np.int64) if sparse else np.empty(shape, self.dtype)
        dloss = np.empty(rows, self.dtype)
        x = self._record_forward(x)
        last = self.nodes[-1]
        if sparse:
            k.sparse_softmax_xent_forward(self.loss_values, self.probs, last.logits, target,
                                          program=program)
            k.sparse_softmax_xent_backward(self.dlogits, dloss, self.probs, target,
                                           program=program)
        else:
            k.softmax_xent_forward(self.loss_values, self.probs, last.logits, target,
                                   program=program)
            k.softmax_xent_backward(self.dlogits, dloss, self.probs, target, program=program)
        # the loss's softmax is the layer's own (both md_softmax_row): the model's output
        last.y = self.probs
        grad = last.backward(self.dlogits, pre_activation=True)
        for i in reversed(range(len(self.nodes) - 1)):
            if grad is None:
                break
            grad = self._record_backward(i, grad)
        self.gradients = [pair for node in self.nodes for pair in node.gradients()]
        self._record_update()
        program.declare_inputs(batch, target, dloss)
        # the weight arrays the program points at: a new array (a model moved between
        # devices and back, a replaced value) means recording again
        self.weight_arrays = [(v, v.value) for v in self.model.weights]

    def _record_update(self):
        """Record the optimizer's update after the backward pass when it can be (see
        ``Optimizer._program_signature``): the step is then one call."""
        self.update_signature = self._update_signature()
        if self.update_signature is None:
            return
        optimizer = self.model.optimizer
        self.update_scalars = np.zeros(optimizer._program_scalar_count)
        gradients = {id(variable): gradient for variable, gradient in self.gradients}
        optimizer._record_update(self.program, [(gradients[id(v)], v) for v in self.variables],
                                 self.update_scalars)

    def _update_signature(self):
        """What a recorded update depends on (None: the optimizer is applied after the
        program, from Python): the optimizer's signature for the trainable variables
        (each has a planned gradient: a plan's layers are all trainable), when none is
        regularized (its penalty's gradient is added after the backward pass)."""
        variables = self.variables
        if any(v.regularizer is not None for v in variables):
            return None
        return self.model.optimizer._program_signature(variables)

    def _record_forward(self, x):
        """Record the forward pass of every node; a convolution followed by a 2x2 average
        pooling records both in one call."""
        nodes, i = self.nodes, 0
        while i < len(nodes):
            following = nodes[i + 1] if i + 1 < len(nodes) else None
            if isinstance(nodes[i], _ConvNode) and isinstance(following, _PoolNode) and \
                    following.average_2x2:
                x = nodes[i].forward(x, pool=following)
                i += 2
            else:
                x = nodes[i].forward(x)
                i += 1
        return x

    def _record_backward(self, i, grad):
        """Record node i's backward pass; a batch norm or a pooling right after a
        convolution with a fused activation applies that activation's derivative in its
        own pass (the bits of the two passes, one pass over the activations fewer)."""
        node = self.nodes[i]
        before = self.nodes[i - 1] if i > 0 else None
        # a planned convolution's activation is linear (code 0) or one it fuses
        if isinstance(node, (_BatchNormNode, _PoolNode)) and isinstance(before, _ConvNode) \
                and before.code:
            before.activation_done = True
            return node.backward(grad, activation=before.code)
        return node.backward(grad)

    @staticmethod
    def key_of(model, input_shape, dtype):
        """What a plan depends on: the layers, their trainability, the loss, the shape."""
        return (tuple(id(layer) for layer in model._layers),
                tuple(layer.trainable for layer in model._layers), id(model.loss),
                tuple(input_shape), np.dtype(dtype).name)

    @staticmethod
    def plannable(model):
        """Whether every layer and the loss of a built model can be planned."""
        layers = [layer for layer in model._layers if not isinstance(layer, InputLayer)]
        if not layers or not _plannable_loss(model.loss) or \
                len({layer.dtype for layer in layers}) != 1:
            return False
        last = layers[-1]
        if not (isinstance(last, Dense) and last.activation == "softmax"):
            return False
        return all(_plannable(layer, layer is last) for layer in layers)

    def run(self, x, y):
        """One step's forward, loss and backward (the weight gradients into ``.grad``),
        and the optimizer's update when the program holds it (``updated``).

        Returns:
            ``(per-sample losses, model output)``: buffers of the plan, valid until the
            next step.
        """
        if self._update_signature() != self.update_signature or \
                any(variable.value is not array for variable, array in self.weight_arrays):
            self._record()
        last = self.nodes[-1]
        target, dloss = self._loss(y, last)
        optimizer = self.model.optimizer if self.updated else None
        if optimizer is not None:  # checked before anything runs
            optimizer._program_scalars(self.update_scalars)
        self.program.run(np.ascontiguousarray(x, self.dtype), target, dloss)
        if optimizer is not None:
            optimizer._count_recorded_step()
        for variable, gradient in self.gradients:
            variable.grad = gradient
        return self.loss_values, last.y

    @property
    def updated(self):
        """Whether a run also applies the optimizer's update (recorded in the program)."""
        return self.update_signature is not None

    def _loss(self, y, last):
        """The checked targets (dense targets or int64 labels) and d(loss)/d(per-sample
        loss), as the loss's own fused path prepares them."""
        loss, name = self.model.loss, type(self.model.loss).__name__
        rows = last.logits.shape[0]
        dloss = np.ascontiguousarray(loss._dloss((rows,), None, self.dtype).reshape(-1))
        if isinstance(loss, losses.SparseCategoricalCrossentropy):
            labels = losses._sparse_labels(y, last.logits, name).reshape(-1)
            target = class_labels(labels, rows, last.logits.shape[1], name)
        else:
            target = np.ascontiguousarray(losses._dense_targets(y, last.logits, name))
        return target, dloss
