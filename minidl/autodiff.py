"""Reverse-mode differentiation for custom training steps: ``GradientTape`` and ``Tensor``.

minidl's layers carry their own backward passes; a training step written by the user
(Keras's ``train_step`` with ``tf.GradientTape``) needs those passes chained through
whatever the step computes. While a tape records, calling a model returns a
:class:`Tensor`: the output values plus the node that knows how to send a gradient back
through the model (its layers' ``backward``) into its weights and, when the input is
itself a tracked tensor or a watched array, into its input. Losses, regularization
penalties and NumPy arithmetic on tensors add further nodes; ``tape.gradient`` walks them
back from the target.

What the tape cannot differentiate (a NumPy function it has no rule for, the targets of
a loss) still computes its value; a gradient that would have to pass through it raises
``NotImplementedError`` naming it, instead of coming back silently wrong.

A model (or layer) keeps one forward pass's state for its backward pass; calling the
same model twice under one tape keeps each call's state (``tape.gradient`` restores it).
"""
import itertools
import threading

import numpy as np

from minidl._per_thread import PerThread
from minidl.variables import Variable

__all__ = ["GradientTape", "Tensor"]

_state = threading.local()
_order = itertools.count()


def _tapes():
    tapes = getattr(_state, "tapes", None)
    if tapes is None:
        tapes = _state.tapes = []
    return tapes


def recording():
    """The innermost tape recording in this thread, or None."""
    tapes = _tapes()
    return tapes[-1] if tapes else None


class Undifferentiable:
    """A gradient that could not be computed, with the reason (raised only when it
    reaches a source the caller asked for)."""

    def __init__(self, reason):
        self.reason = reason


def _leaf(key):
    """The node of a tensor gradients are collected for, under ``key`` (nothing before
    it: a watched array, a traced function's input)."""
    node = _Node([], lambda grad: [])
    node.leaf = key
    return node


class _Node:
    """How a tensor was computed: its parent tensors and ``backward(grad)``, which
    returns one gradient per parent (None: no gradient flows to that parent). A node
    with ``variables`` (a model call) returns ``(parent gradients, {id(variable):
    gradient})`` instead."""

    def __init__(self, parents, backward, variables=None):
        self.parents = parents
        self.backward = backward
        self.variables = variables


class Tensor:
    """An array computed under a :class:`GradientTape` (Keras's eager tensor).

    It behaves as its NumPy value for reading (``shape``, ``dtype``, ``float(t)``,
    ``np.asarray(t)``, ``t.numpy()``) and records arithmetic, reductions and the NumPy
    functions listed in ``minidl.autodiff.DIFFERENTIABLE`` so that ``tape.gradient`` can send
    gradients back through them.

    Args:
        value (array-like or float): the value.

    Example:
        >>> import numpy as np
        >>> import minidl
        >>> x = np.array([1.0, 2.0, 3.0])
        >>> with minidl.GradientTape() as tape:
        ...     tape.watch(x)
        ...     total = (minidl.Tensor(x) ** 2).sum()
        >>> type(total).__name__, float(total)
        ('Tensor', 14.0)
        >>> tape.gradient(total, x)
        array([2., 4., 6.])
    """

    __array_priority__ = 1000

    def __init__(self, value):
        if isinstance(value, Tensor):
            value = value.value
        self.value = value if isinstance(value, np.ndarray) else np.asarray(value)
        self._node = None
        self._order = next(_order)
        tape = recording()
        if tape is not None and tape._is_watched(value):
            self._node = tape._watch_leaf(value)

    @classmethod
    def _computed(cls, value, node):
        """A tensor computed by ``node`` (never a watched leaf)."""
        tensor = cls(value)
        tensor._node = node
        return tensor

    # ------------------------------------------------------------ reading
    shape = property(lambda self: self.value.shape, doc="The value's shape.")
    dtype = property(lambda self: self.value.dtype, doc="The value's dtype.")
    ndim = property(lambda self: self.value.ndim, doc="The value's number of axes.")
    size = property(lambda self: self.value.size, doc="The value's number of elements.")

    def numpy(self):
        """The value as a NumPy array (TensorFlow's ``Tensor.numpy``)."""
        return self.value

    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype, copy=False)

    def __float__(self):
        return float(self.value)

    def __int__(self):
        return int(self.value)

    def __len__(self):
        return len(self.value)

    def __bool__(self):
        return bool(self.value)

    def __repr__(self):
        return f"minidl.Tensor({np.array2string(self.value)}, dtype={self.value.dtype})"

    def item(self):
        """The value as a Python scalar."""
        return self.value.item()

    # ------------------------------------------------------------ NumPy protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or kwargs.get("out") is not None:
            return _opaque(f"numpy.{ufunc.__name__}.{method}", ufunc, method, inputs, kwargs)
        rule = _UFUNC_RULES.get(ufunc.__name__)
        if rule is None:
            return _opaque(f"numpy.{ufunc.__name__}", ufunc, method, inputs, kwargs)
        return rule(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        rule = _FUNCTION_RULES.get(func.__name__)
        if rule is None:
            return _opaque(f"numpy.{func.__name__}", func, None, args, kwargs)
        return rule(*args, **kwargs)

    # ------------------------------------------------------------ methods
    def sum(self, axis=None, keepdims=False):
        """The sum over ``axis`` (recorded).

        Args:
            axis (int or tuple of ints or None): the axes to sum over (None: all).
            keepdims (bool): keep the summed axes with length 1.
        """
        return _reduce_sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        """The mean over ``axis`` (recorded).

        Args:
            axis (int or tuple of ints or None): the axes to average over (None: all).
            keepdims (bool): keep the averaged axes with length 1.
        """
        return _reduce_mean(self, axis, keepdims)

    def reshape(self, *shape):
        """The value reshaped (recorded).

        Args:
            *shape: the new shape, as ints or one tuple (NumPy's ``reshape``).
        """
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return _reshape(self, shape)

    def __getitem__(self, index):
        return _getitem(self, index)

    __add__ = lambda a, b: np.add(a, b)  # noqa: E731 (the ufunc rules record them)
    __radd__ = lambda a, b: np.add(b, a)  # noqa: E731
    __sub__ = lambda a, b: np.subtract(a, b)  # noqa: E731
    __rsub__ = lambda a, b: np.subtract(b, a)  # noqa: E731
    __mul__ = lambda a, b: np.multiply(a, b)  # noqa: E731
    __rmul__ = lambda a, b: np.multiply(b, a)  # noqa: E731
    __truediv__ = lambda a, b: np.true_divide(a, b)  # noqa: E731
    __rtruediv__ = lambda a, b: np.true_divide(b, a)  # noqa: E731
    __pow__ = lambda a, b: np.power(a, b)  # noqa: E731
    __rpow__ = lambda a, b: np.power(b, a)  # noqa: E731
    __matmul__ = lambda a, b: np.matmul(a, b)  # noqa: E731
    __rmatmul__ = lambda a, b: np.matmul(b, a)  # noqa: E731
    __neg__ = lambda a: np.negative(a)  # noqa: E731
    __pos__ = lambda a: a  # noqa: E731
    __abs__ = lambda a: np.absolute(a)  # noqa: E731
    __lt__ = lambda a, b: np.less(a, b)  # noqa: E731
    __le__ = lambda a, b: np.less_equal(a, b)  # noqa: E731
    __gt__ = lambda a, b: np.greater(a, b)  # noqa: E731
    __ge__ = lambda a, b: np.greater_equal(a, b)  # noqa: E731


def value_of(x):
    """The NumPy value of a tensor (anything else as it is; lists and tuples item by
    item)."""
    if isinstance(x, Tensor):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(value_of(item) for item in x)
    return x


def is_tensor(x):
    """True for a :class:`Tensor` (or a list/tuple holding one)."""
    if isinstance(x, (list, tuple)):
        return any(is_tensor(item) for item in x)
    return isinstance(x, Tensor)


def _tracked(x):
    return isinstance(x, Tensor) and x._node is not None


def make(value, parents, backward, variables=None):
    """A tensor of ``value`` computed from ``parents`` (tensors or constants);
    ``backward(grad)`` returns one gradient per parent. Untracked parents get none."""
    tracked = [p if _tracked(p) else None for p in parents]
    if all(t is None for t in tracked) and not variables:
        return Tensor(value)

    def masked(grad):
        result = backward(grad)
        grads, weights = result if variables is not None else (result, None)
        grads = [g if t is not None else None for g, t in zip(grads, tracked)]
        return grads if variables is None else (grads, weights)
    return Tensor._computed(value, _Node(tracked, masked, variables))


def _opaque(name, func, method, inputs, kwargs):
    """Compute on the values; a floating result becomes a tensor whose gradient
    cannot be taken (a gradient through it raises naming ``name``)."""
    plain = [value_of(x) for x in inputs]
    kwargs = {k: value_of(v) for k, v in kwargs.items()}
    result = func(*plain, **kwargs) if method is None or method == "__call__" else \
        getattr(func, method)(*plain, **kwargs)
    if not isinstance(result, np.ndarray) and not np.isscalar(result):
        return result
    if not np.issubdtype(np.asarray(result).dtype, np.floating):
        return result  # comparisons, indices: no gradient to carry

    def backward(grad):
        reason = (f"GradientTape: no gradient rule for {name}; the tape differentiates "
                  f"{', '.join(sorted(DIFFERENTIABLE))}")
        return [Undifferentiable(reason)] * len(inputs)
    return make(result, list(inputs), backward)


# ---------------------------------------------------------------- gradient rules

def _unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape`` (the reverse of NumPy broadcasting)."""
    if isinstance(grad, Undifferentiable):
        return grad
    grad = np.asarray(grad)
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def _binary(forward, gradients):
    """A rule for a broadcasting binary ufunc; ``gradients(a, b, out, grad)`` gives the
    full-shape gradients of both operands."""
    def rule(a, b, **kwargs):
        av, bv = value_of(a), value_of(b)
        out = forward(av, bv, **kwargs)

        def backward(grad):
            ga, gb = gradients(np.asarray(av), np.asarray(bv), out, grad)
            return [_unbroadcast(ga, np.shape(av)), _unbroadcast(gb, np.shape(bv))]
        return make(out, [a, b], backward)
    return rule


def _unary(forward, gradient):
    """A rule for an elementwise unary ufunc; ``gradient(x, out, grad)``."""
    def rule(a, **kwargs):
        av = value_of(a)
        out = forward(av, **kwargs)
        return make(out, [a], lambda grad: [gradient(np.asarray(av), out, grad)])
    return rule


def _power_gradients(a, b, out, g):
    ga = g * b * np.power(a, b - 1)
    gb = g * out * np.log(np.where(a > 0, a, 1)) if np.ndim(b) or not np.isscalar(b) \
        else 0 * g
    return ga, gb


def _matmul(a, b):
    av, bv = np.asarray(value_of(a)), np.asarray(value_of(b))
    if av.ndim != 2 or bv.ndim != 2:
        return _opaque("numpy.matmul of arrays that are not 2-D", np.matmul, "__call__",
                       [a, b], {})
    return make(av @ bv, [a, b], lambda g: [g @ bv.T, av.T @ g])


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in (axis if isinstance(axis, tuple) else (axis,)))


def _reduce_sum(a, axis=None, keepdims=False, dtype=None, **unused):
    av = np.asarray(value_of(a))
    out = np.sum(av, axis=axis, keepdims=keepdims, dtype=dtype)

    def backward(grad):
        g = np.asarray(grad)
        if not keepdims:
            g = np.expand_dims(g, _axes(axis, av.ndim))
        return [np.broadcast_to(g, av.shape).astype(av.dtype, copy=True)]
    return make(out, [a], backward)


def _reduce_mean(a, axis=None, keepdims=False, dtype=None, **unused):
    av = np.asarray(value_of(a))
    count = int(np.prod([av.shape[i] for i in _axes(axis, av.ndim)]))
    total = _reduce_sum(a, axis, keepdims, dtype)
    return np.true_divide(total, count) if count else total


def _reshape(a, shape, *unused, **unused_kwargs):
    av = np.asarray(value_of(a))
    return make(av.reshape(shape), [a], lambda g: [np.asarray(g).reshape(av.shape)])


def _getitem(a, index):
    av = np.asarray(value_of(a))

    def backward(grad):
        full = np.zeros_like(av)
        np.add.at(full, index, grad)
        return [full]
    return make(av[index], [a], backward)


def _where(condition, x, y):
    c, xv, yv = value_of(condition), value_of(x), value_of(y)
    return make(np.where(c, xv, yv), [condition, x, y],
                lambda g: [None, _unbroadcast(np.where(c, g, 0), np.shape(xv)),
                           _unbroadcast(np.where(c, 0, g), np.shape(yv))])


def _clip(a, a_min, a_max, **unused):
    av = np.asarray(value_of(a))
    out = np.clip(av, value_of(a_min), value_of(a_max))
    inside = (out == av)
    return make(out, [a], lambda g: [np.where(inside, g, 0)])


_UFUNC_RULES = {
    "add": _binary(np.add, lambda a, b, out, g: (g, g)),
    "subtract": _binary(np.subtract, lambda a, b, out, g: (g, -g)),
    "multiply": _binary(np.multiply, lambda a, b, out, g: (g * b, g * a)),
    "divide": _binary(np.true_divide, lambda a, b, out, g: (g / b, -g * a / (b * b))),
    "power": _binary(np.power, _power_gradients),
    "maximum": _binary(np.maximum, lambda a, b, out, g: (g * (a >= b), g * (a < b))),
    "minimum": _binary(np.minimum, lambda a, b, out, g: (g * (a <= b), g * (a > b))),
    "matmul": _matmul,
    "negative": _unary(np.negative, lambda x, out, g: -g),
    "positive": _unary(np.positive, lambda x, out, g: g),
    "square": _unary(np.square, lambda x, out, g: 2 * x * g),
    "sqrt": _unary(np.sqrt, lambda x, out, g: g / (2 * out)),
    "exp": _unary(np.exp, lambda x, out, g: g * out),
    "log": _unary(np.log, lambda x, out, g: g / x),
    "log1p": _unary(np.log1p, lambda x, out, g: g / (1 + x)),
    "tanh": _unary(np.tanh, lambda x, out, g: g * (1 - out * out)),
    "absolute": _unary(np.absolute, lambda x, out, g: g * np.sign(x)),
}
_FUNCTION_RULES = {
    "sum": _reduce_sum, "mean": _reduce_mean, "reshape": _reshape, "where": _where,
    "clip": _clip,
}
#: The NumPy ufuncs and functions a tape differentiates (besides the models, layers and
#: losses of minidl).
DIFFERENTIABLE = frozenset(f"numpy.{name}" for name in
                           list(_UFUNC_RULES) + list(_FUNCTION_RULES))


# ---------------------------------------------------------------- the tape

class GradientTape:
    """Records what a training step computes, to take gradients of it
    (``tf.GradientTape``).

    While the tape is entered, calling a model (or a layer) returns a :class:`Tensor`;
    losses, the models' regularization penalties (``model.losses``) and NumPy
    arithmetic on tensors are recorded. ``gradient`` sends the target's gradient back
    through them with the layers' own backward passes.

    Args:
        persistent (bool): allow ``gradient`` to be called more than once.
        watch_accessed_variables (bool): accepted for compatibility; the weights of every
            model called under the tape are watched.

    Example:
        >>> import numpy as np
        >>> import minidl
        >>> from minidl import layers
        >>> model = minidl.Sequential([layers.Dense(1, input_shape=(3,))])
        >>> x, y = np.ones((4, 3)), np.zeros((4, 1))
        >>> with minidl.GradientTape() as tape:
        ...     loss = minidl.losses.MeanSquaredError()(y, model(x, training=True))
        >>> kernel_gradient, bias_gradient = tape.gradient(loss, model.trainable_weights)
        >>> kernel_gradient.shape, bias_gradient.shape
        ((3, 1), (1,))
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = bool(persistent)
        self.watch_accessed_variables = bool(watch_accessed_variables)
        self._watched = {}
        self._used = False

    def __enter__(self):
        _tapes().append(self)
        return self

    def __exit__(self, *exc_info):
        _tapes().remove(self)
        return False

    def watch(self, tensor):
        """Differentiate with respect to ``tensor`` (a NumPy array, or a list of them):
        a model called on it passes its input gradient back to it.

        Args:
            tensor (numpy.ndarray or Tensor or list): what to watch.
        """
        for item in tensor if isinstance(tensor, (list, tuple)) else [tensor]:
            if not isinstance(item, Tensor):
                self._watched[id(item)] = item

    def _is_watched(self, value):
        return id(value) in self._watched

    def _watch_leaf(self, value):
        return _leaf(id(value))

    def stop_recording(self):
        """A context in which nothing is recorded (models return arrays)."""
        return paused(self)

    def reset(self):
        """Forget what was watched."""
        self._watched.clear()

    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients="none"):
        """The gradient of ``target`` with respect to each source.

        Args:
            target (Tensor or list of Tensor): what to differentiate (a non-scalar target
                is summed, as TensorFlow does).
            sources (Variable or numpy.ndarray or Tensor or list): the weights
                (``model.trainable_variables``) or watched arrays.
            output_gradients (array-like or None): the target's upstream gradient
                (default ones).
            unconnected_gradients (str): ``'none'`` (None for a source the target does not
                depend on) or ``'zero'`` (zeros).

        Returns:
            The gradients, in the structure of ``sources``.
        """
        if self._used and not self.persistent:
            raise RuntimeError("GradientTape.gradient can only be called once on a "
                               "non-persistent tape (use GradientTape(persistent=True))")
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(f"GradientTape.gradient: argument 'unconnected_gradients' must "
                             f"be 'none' or 'zero'. Received: {unconnected_gradients!r}")
        targets = list(target) if isinstance(target, (list, tuple)) else [target]
        for item in targets:
            if not _tracked(item):
                raise ValueError(
                    "GradientTape.gradient: the target was not computed under a tape from a "
                    "model call, a layer call or a watched array (received "
                    f"{type(item).__name__}); compute the loss inside the 'with' block")
        seeds = output_gradients if isinstance(output_gradients, (list, tuple)) else \
            [output_gradients] * len(targets)
        single = not isinstance(sources, (list, tuple))
        for source in [sources] if single else sources:
            if not isinstance(source, (Tensor, np.ndarray, Variable)):
                raise TypeError(f"GradientTape.gradient: a source must be a Variable (a "
                                f"layer's weight), a watched NumPy array or a Tensor. "
                                f"Received: {type(source).__name__}")
        self._used = True  # the arguments are valid: the tape is spent
        by_variable, by_leaf = _backpropagate(targets, seeds)
        results = [self._result(s, by_variable, by_leaf, unconnected_gradients)
                   for s in ([sources] if single else sources)]
        return results[0] if single else type(sources)(results) \
            if isinstance(sources, tuple) else results

    @staticmethod
    def _result(source, by_variable, by_leaf, unconnected):
        if isinstance(source, Tensor):
            node = source._node
            key = getattr(node, "leaf", None)
            grad = by_leaf.get(key) if key is not None else None
            shape = source.shape
        elif isinstance(source, Variable):
            grad = by_variable.get(id(source))
            shape = source.shape
        else:  # a watched array (the sources' types were checked up front)
            grad = by_leaf.get(id(source))
            shape = source.shape
        if isinstance(grad, Undifferentiable):
            raise NotImplementedError(grad.reason)
        if grad is None and unconnected == "zero":
            return np.zeros(shape)
        return grad


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, Undifferentiable):
        return a
    if isinstance(b, Undifferentiable):
        return b
    if isinstance(a, list):
        return [_add(x, y) for x, y in zip(a, b)]
    return a + b


def _backpropagate(targets, seeds):
    """Gradients of the targets' sum: ``({id(variable): grad}, {id(watched array): grad})``."""
    tensors, stack = {}, list(targets)
    while stack:  # every tracked tensor the targets depend on
        tensor = stack.pop()
        if id(tensor) in tensors:
            continue
        tensors[id(tensor)] = tensor
        stack.extend(p for p in tensor._node.parents if p is not None)
    grads = {}
    for tensor, seed in zip(targets, seeds):
        start = np.ones_like(tensor.value) if seed is None else np.asarray(seed)
        grads[id(tensor)] = _add(grads.get(id(tensor)), start)
    by_variable, by_leaf = {}, {}
    # parents are made before their children: newest first is a topological order
    for tensor in sorted(tensors.values(), key=lambda t: t._order, reverse=True):
        grad = grads.pop(id(tensor), None)
        if grad is None:
            continue
        node = tensor._node
        if getattr(node, "leaf", None) is not None:
            by_leaf[node.leaf] = _add(by_leaf.get(node.leaf), grad)
            continue
        if isinstance(grad, Undifferentiable):
            parent_grads = [grad] * len(node.parents)
            weights = {id(v): grad for v in node.variables or ()}
        elif node.variables is None:
            parent_grads, weights = node.backward(grad), {}
        else:
            parent_grads, weights = node.backward(grad)
        for key, value in weights.items():
            by_variable[key] = _add(by_variable.get(key), value)
        for parent, g in zip(node.parents, parent_grads):
            if parent is not None and g is not None:
                grads[id(parent)] = _add(grads.get(id(parent)), g)
    return by_variable, by_leaf


# ---------------------------------------------------------------- models, layers, losses

class paused:
    """A context in which ``tape`` (default: every tape of this thread) does not record
    (a model's own layers run on plain arrays inside its recorded call)."""

    def __init__(self, tape=None):
        self.tape = tape

    def __enter__(self):
        self.saved = list(_tapes())
        _tapes()[:] = [t for t in self.saved if self.tape is not None and t is not self.tape]

    def __exit__(self, *exc_info):
        _tapes()[:] = self.saved
        return False


def _stateful(objects):
    """What a backward pass reads of each object's forward: ``(object, attribute,
    value)`` for its per-thread attributes (layer caches, logits, a functional model's
    per-node caches)."""
    return [(obj, name, getattr(obj, name)) for obj in objects
            for cls in type(obj).__mro__ for name, attribute in vars(cls).items()
            if isinstance(attribute, PerThread)]


def record_call(inputs, forward, backward, objects, variables):
    """Run a model or layer call under the tape and return its output as tensors.

    Args:
        inputs (array-like or Tensor or list): the call's input(s).
        forward (callable): computes the output from the input value(s).
        backward (callable): the output gradient to the input gradient(s) (None when
            none is computed); sets ``variable.grad`` of the weights.
        objects (list): the model and layers whose forward state backward reads.
        variables (list of Variable): the weights whose gradients backward sets.

    Returns:
        A Tensor (a list of them for several outputs).
    """
    tape = recording()
    several = isinstance(inputs, (list, tuple))
    items = list(inputs) if several else [inputs]
    parents = [x if _tracked(x) else Tensor(x) if tape is not None and
               not isinstance(x, Tensor) and tape._is_watched(x) else None for x in items]
    with paused():
        out = forward([value_of(x) for x in items] if several else value_of(items[0]))
    saved = _stateful(objects)
    layers_with_flag = [o for o in objects if hasattr(o, "input_gradient")]
    needs_input = any(p is not None for p in parents)

    def run_backward(grad):
        for obj, name, value in saved:  # this call's forward state (a later call's too)
            setattr(obj, name, value)
        flags = [(layer, layer.input_gradient) for layer in layers_with_flag]
        for variable in variables:
            variable.grad = None
        try:
            if needs_input:
                for layer, _ in flags:
                    layer.input_gradient = True
            dx = backward(grad)
        finally:
            for layer, flag in flags:
                layer.input_gradient = flag
        weights = {id(v): np.array(v.grad, copy=True) for v in variables
                   if v.grad is not None}
        dxs = list(dx) if several and dx is not None else [dx] * len(items)
        return dxs, weights

    if not isinstance(out, list):
        return make(out, parents, run_backward, variables=list(variables))
    pack = make(np.zeros(0), parents, run_backward, variables=list(variables))
    count = len(out)
    return [make(value, [pack], lambda g, i=i: [[g if j == i else None
                                                for j in range(count)]])
            for i, value in enumerate(out)]


def regularization_penalty(variable):
    """``variable.regularizer(variable)`` as a tensor whose gradient reaches the weight."""
    value = variable.regularizer(variable.value)
    return make(np.asarray(value), [], lambda g: ([], {id(variable): g * np.asarray(
        variable.regularizer.gradient(variable.value))}), variables=[variable])


def loss_call(loss, y_true, y_pred, sample_weight):
    """A ``Loss`` called on a tensor: its reduced value, recorded.

    A loss with its own gradient (the built-in ones) sends ``upstream × d loss / d
    y_pred`` back; a loss written with NumPy on its inputs (a Keras-style ``call``, a
    wrapped function) is recorded through the NumPy operations it runs.
    """
    target, prediction = value_of(y_true), value_of(y_pred)
    if loss._has_gradient():
        value = loss(target, prediction, sample_weight)
        return make(np.asarray(value), [y_true, y_pred], lambda g: [
            Undifferentiable(f"GradientTape: loss '{loss.name}' has no gradient with "
                             f"respect to y_true"),
            loss._gradient_times(target, prediction, sample_weight, g)])
    return loss._reduce(loss._call_on(target, y_pred), sample_weight)


def trace(function, value):
    """Call ``function`` on a tensor of ``value`` (a leaf of its own, no tape needed);
    return ``(result, gradient)``: the plain result, and ``gradient(dy)`` giving the
    gradient with respect to ``value`` of ``sum(result * dy)``.

    ``gradient`` raises ``NotImplementedError`` when the result was not computed from the
    tensor by operations the tape differentiates (its text says which).

    Args:
        function (callable): a function of one array (or of a list of arrays), written
            with NumPy operations.
        value (numpy.ndarray or list of numpy.ndarray): the input (a list: one gradient
            per array).
    """
    several = isinstance(value, (list, tuple))
    values = list(value) if several else [value]
    leaves = []
    for item in values:
        leaf = Tensor(item)
        leaf._node = _leaf(id(leaf))
        leaves.append(leaf)
    with paused():
        result = function(leaves if several else leaves[0])
    plain = value_of(result)

    def gradient(dy):
        if not _tracked(result):
            raise NotImplementedError(
                "the function's result is not recorded from its input (it was computed "
                "outside the NumPy operations a GradientTape differentiates, e.g. through "
                "np.asarray or a minidl.ops function)")
        _, by_leaf = _backpropagate([result], [dy])
        grads = []
        for leaf, item in zip(leaves, values):
            grad = by_leaf.get(id(leaf))
            if isinstance(grad, Undifferentiable):
                raise NotImplementedError(grad.reason)
            grads.append(np.zeros_like(item) if grad is None else
                         np.asarray(grad, dtype=np.asarray(item).dtype))
        return grads if several else grads[0]
    return np.asarray(plain), gradient
