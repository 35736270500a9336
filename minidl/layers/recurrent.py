"""Recurrent layers: SimpleRNN, LSTM and GRU (``keras.layers``), unrolled over time in
Python around the C core: one GEMM for every step's input projection ``x W``, then per
step a GEMM for ``h U`` and the cell kernel (:func:`minidl.ops.lstm_cell`,
:func:`~minidl.ops.gru_cell`, or an activation for SimpleRNN). Backpropagation through
time runs the steps in reverse and gathers the weight gradients in three GEMMs."""
import numpy as np

from minidl import activations, constraints, initializers, ops, regularizers
from minidl.layers.base import Layer, positive_int


class _ForgetGateOnes(initializers.Initializer):
    """Keras's ``unit_forget_bias``: the bias initializer's values with ones for the
    forget gate (the second quarter)."""

    def __init__(self, base, units):
        self.base, self.units = base, units

    def __call__(self, shape, dtype=None):
        values = np.array(self.base(shape, dtype=dtype), copy=True)
        values[self.units:2 * self.units] = 1
        return values


def _only(value, allowed, layer, argument):
    """Refuse an argument minidl does not implement (NotImplementedError naming it)."""
    if value not in allowed:
        raise NotImplementedError(f"{layer}: argument '{argument}' is not implemented "
                                  f"(only {' or '.join(map(repr, allowed))}). Received: "
                                  f"{argument}={value!r}")


class _Recurrent(Layer):
    """What SimpleRNN, LSTM and GRU share: arguments, weights, the time loop's frame."""

    _GATES = 1  # gate blocks in the kernels' columns

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.units = positive_int(units, name, "units")
        self.activation = activations.get(activation)
        for argument, value, allowed in (("dropout", dropout, (0, 0.0)),
                                         ("recurrent_dropout", recurrent_dropout, (0, 0.0)),
                                         ("return_state", return_state, (False,)),
                                         ("stateful", stateful, (False,)),
                                         ("activity_regularizer", activity_regularizer, (None,))):
            _only(value, allowed, name, argument)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.return_sequences = bool(return_sequences)
        self.go_backwards = bool(go_backwards)
        self.unroll = bool(unroll)  # accepted: the loop is always unrolled in Python
        self.kernel = self.recurrent_kernel = self.bias = None
        self.input_gradient = True  # a model turns this off for its first layer

    # ------------------------------------------------------------ weights
    def _bias_shape(self):
        return (self._GATES * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        """Create ``kernel`` (features, gates x units), ``recurrent_kernel`` (units,
        gates x units) and ``bias``."""
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the input must have rank "
                             f"3 (batch, timesteps, features). Received: shape "
                             f"{tuple(input_shape)}")
        width = self._GATES * self.units
        self.kernel = self.add_weight((input_shape[-1], width), self.kernel_initializer,
                                      "kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            (self.units, width), self.recurrent_initializer, "recurrent_kernel",
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight(self._bias_shape(), self._bias_initializer(), "bias",
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        """``(batch, timesteps, units)`` with ``return_sequences``, else
        ``(batch, units)``."""
        shape = tuple(input_shape)
        return shape[:2] + (self.units,) if self.return_sequences else (shape[0], self.units)

    # ------------------------------------------------------------ the time loop's frame
    def _input_bias(self):
        return self.bias.value if self.use_bias else None

    def call(self, inputs, training=False):
        """Run the sequence (the last step first with ``go_backwards``); keeps each
        step's state for the backward pass."""
        if inputs.shape[1] == 0:
            raise ValueError(f"{type(self).__name__} '{self.name}': the input has no "
                             f"timesteps. Received: shape {inputs.shape}")
        steps = inputs[:, ::-1] if self.go_backwards else inputs
        time_major = ops.transpose(steps, (1, 0, 2))  # (timesteps, batch, features)
        t, b, f = time_major.shape
        flat = time_major.reshape(t * b, f)
        projected = ops.matmul(flat, self.kernel.value)
        bias = self._input_bias()
        if bias is not None:
            projected = ops.bias_add(projected, bias)
        states, outputs = self._run(projected.reshape(t, b, -1))
        self._cache = {"flat": flat, "states": states, "shape": inputs.shape}
        if not self.return_sequences:
            return outputs[-1]
        return np.ascontiguousarray(np.stack(outputs, axis=1))

    def backward(self, dy):
        """Backpropagation through time: the weights' gradients into ``.grad``; returns
        the input's gradient (None when ``input_gradient`` is off)."""
        flat, states, shape = (self._need_cache(k) for k in ("flat", "states", "shape"))
        t, b = shape[1], shape[0]
        if self.return_sequences:
            step_grads = [dy[:, i] for i in range(t)]
        else:
            step_grads = [None] * (t - 1) + [dy]
        input_grads, extra = self._run_backward(states, step_grads)  # (t * b, gates x units)
        self.kernel.grad = ops.matmul(ops.transpose(flat), input_grads)
        if self.use_bias:
            self._set_bias_grad(input_grads, extra)
        if not self.input_gradient:
            return None
        dx = ops.matmul(input_grads, ops.transpose(self.kernel.value)).reshape(t, b, -1)
        dx = ops.transpose(dx, (1, 0, 2))
        return np.ascontiguousarray(dx[:, ::-1]) if self.go_backwards else dx

    def _set_bias_grad(self, input_grads, extra):
        """The bias's gradient from the steps' input-projection gradients (``extra``: what
        a subclass's backward adds; GRU's recurrent-bias gradients)."""
        self.bias.grad = ops.bias_add_backward(input_grads)

    def _recurrent_grad(self, previous_states, step_grads):
        """``U``'s gradient: ``h_prev^T`` times the steps' recurrent-product gradients."""
        h_prev = np.concatenate(previous_states, axis=0)
        self.recurrent_kernel.grad = ops.matmul(ops.transpose(h_prev),
                                                np.concatenate(step_grads, axis=0))

    def _zeros(self, like):
        """The initial state: zeros of ``(batch, units)``."""
        return np.zeros((like.shape[0], self.units), dtype=like.dtype)

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(
            units=self.units, activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            recurrent_initializer=initializers.serialize(self.recurrent_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            return_sequences=self.return_sequences, go_backwards=self.go_backwards,
            unroll=self.unroll)
        for key, module in (("kernel_regularizer", regularizers),
                            ("recurrent_regularizer", regularizers),
                            ("bias_regularizer", regularizers),
                            ("kernel_constraint", constraints),
                            ("recurrent_constraint", constraints),
                            ("bias_constraint", constraints)):
            value = getattr(self, key)
            config[key] = None if value is None else module.serialize(value)
        return config


def _plus(a, b):
    """``a + b`` where either may be None (no gradient)."""
    if a is None:
        return b
    return a if b is None else ops.add(a, b)


class SimpleRNN(_Recurrent):
    """Fully connected recurrence: ``h_t = activation(x_t W + h_{t-1} U + b)``
    (``keras.layers.SimpleRNN``).

    Args:
        units (int): the size of the state and of the output.
        activation (str or callable or None): the activation (default tanh).
        use_bias (bool): whether to add the bias.
        kernel_initializer (str or Initializer or dict or callable): of ``kernel``
            (features, units).
        recurrent_initializer (str or Initializer or dict or callable): of
            ``recurrent_kernel`` (units, units); default orthogonal.
        bias_initializer (str or Initializer or dict or callable): of ``bias``.
        kernel_regularizer (str or Regularizer or dict or None): penalty on ``kernel``.
        recurrent_regularizer (str or Regularizer or dict or None): penalty on
            ``recurrent_kernel``.
        bias_regularizer (str or Regularizer or dict or None): penalty on ``bias``.
        activity_regularizer (None): only None.
        kernel_constraint (str or Constraint or dict or None): constraint on ``kernel``.
        recurrent_constraint (str or Constraint or dict or None): constraint on
            ``recurrent_kernel``.
        bias_constraint (str or Constraint or dict or None): constraint on ``bias``.
        dropout (float): only 0 (not implemented otherwise).
        recurrent_dropout (float): only 0 (not implemented otherwise).
        return_sequences (bool): return every step's output, not only the last.
        return_state (bool): only False (not implemented).
        go_backwards (bool): process the sequence from its last step (the returned
            sequence is in processing order, as Keras's).
        stateful (bool): only False (not implemented).
        unroll (bool): accepted (the loop always runs step by step).
        **kwargs: Layer arguments.

    Input shape: ``(batch, timesteps, features)``. Output shape: ``(batch, units)``, or
    ``(batch, timesteps, units)`` with ``return_sequences``. The initial state is zero.

    Call arguments:
        inputs (numpy.ndarray): the sequences.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> rnn = layers.SimpleRNN(4, return_sequences=True)
        >>> rnn(np.ones((2, 5, 3))).shape, rnn.recurrent_kernel.shape
        ((2, 5, 4), (4, 4))
    """

    def _run(self, projected):
        h, states, outputs = self._zeros(projected[0]), [], []
        for x_t in projected:
            h_new = ops.activation(ops.add(x_t, ops.matmul(h, self.recurrent_kernel.value)),
                                   self.activation)
            states.append((h, h_new))
            outputs.append(h_new)
            h = h_new
        return states, outputs

    def _run_backward(self, states, step_grads):
        recurrent_t = ops.transpose(self.recurrent_kernel.value)
        grads, dh_next = [None] * len(states), None
        for i in reversed(range(len(states))):
            h_prev, h = states[i]
            dz = ops.activation_backward(_plus(step_grads[i], dh_next), h, self.activation)
            grads[i] = dz
            dh_next = ops.matmul(dz, recurrent_t)
        self._recurrent_grad([state[0] for state in states], grads)
        return np.concatenate(grads, axis=0), None


class LSTM(_Recurrent):
    """Long short-term memory (Hochreiter and Schmidhuber 1997), as
    ``keras.layers.LSTM``: gates i, f, g, o in the kernels' columns, ``c_t = f c_{t-1} +
    i g``, ``h_t = o tanh(c_t)``; each step's gates and states on the C kernel
    :func:`minidl.ops.lstm_cell`.

    Args:
        units (int): the size of the state and of the output.
        activation (str): only ``'tanh'``.
        recurrent_activation (str): only ``'sigmoid'``.
        unit_forget_bias (bool): initialise the forget gate's bias to 1 (Keras's
            default; Jozefowicz et al. 2015).
        **kwargs: the other arguments of :class:`SimpleRNN` (use_bias, the initializers,
            regularizers and constraints of ``kernel``, ``recurrent_kernel`` and ``bias``,
            return_sequences, go_backwards, ...) and the Layer arguments.

    Input shape: ``(batch, timesteps, features)``. Output shape: ``(batch, units)``, or
    ``(batch, timesteps, units)`` with ``return_sequences``. Weights: ``kernel``
    (features, 4 units), ``recurrent_kernel`` (units, 4 units), ``bias`` (4 units).

    Call arguments:
        inputs (numpy.ndarray): the sequences.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> lstm = layers.LSTM(8)
        >>> lstm(np.ones((2, 5, 3))).shape, lstm.kernel.shape
        ((2, 8), (3, 32))
        >>> lstm.bias.value[8:16].tolist() == [1.0] * 8  # the forget gate's bias
        True
    """

    _GATES = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias=True, **kwargs):
        _only(activations.get(activation), ("tanh",), "LSTM", "activation")
        _only(activations.get(recurrent_activation), ("sigmoid",), "LSTM",
              "recurrent_activation")
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = "sigmoid"
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        return _ForgetGateOnes(self.bias_initializer, self.units)

    def _run(self, projected):
        h = c = self._zeros(projected[0])
        states, outputs = [], []
        for x_t in projected:
            z = ops.add(x_t, ops.matmul(h, self.recurrent_kernel.value))
            gates, c_new, h_new = ops.lstm_cell(z, c)
            states.append((h, c, gates, c_new))
            outputs.append(h_new)
            h, c = h_new, c_new
        return states, outputs

    def _run_backward(self, states, step_grads):
        recurrent_t = ops.transpose(self.recurrent_kernel.value)
        grads, dh_next, dc_next = [None] * len(states), None, None
        for i in reversed(range(len(states))):
            h_prev, c_prev, gates, c = states[i]
            dz, dc_next = ops.lstm_cell_backward(_plus(step_grads[i], dh_next), dc_next,
                                                 gates, c, c_prev)
            grads[i] = dz
            dh_next = ops.matmul(dz, recurrent_t)
        self._recurrent_grad([state[0] for state in states], grads)
        return np.concatenate(grads, axis=0), None

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(recurrent_activation=self.recurrent_activation,
                      unit_forget_bias=self.unit_forget_bias)
        return config


class GRU(_Recurrent):
    """Gated recurrent unit (Cho et al. 2014) as ``keras.layers.GRU``'s default
    (``reset_after=True``, the cuDNN form): gates u, r and the candidate n in the
    kernels' columns, ``n = tanh(x W_n + b_n + r (h U_n + b'_n))``, ``h_t = u h_{t-1} +
    (1 - u) n``; each step on the C kernel :func:`minidl.ops.gru_cell`.

    Args:
        units (int): the size of the state and of the output.
        activation (str): only ``'tanh'``.
        recurrent_activation (str): only ``'sigmoid'``.
        reset_after (bool): only True (Keras's default since 2.3).
        **kwargs: the other arguments of :class:`SimpleRNN` (use_bias, the initializers,
            regularizers and constraints of ``kernel``, ``recurrent_kernel`` and ``bias``,
            return_sequences, go_backwards, ...) and the Layer arguments.

    Input shape: ``(batch, timesteps, features)``. Output shape: ``(batch, units)``, or
    ``(batch, timesteps, units)`` with ``return_sequences``. Weights: ``kernel``
    (features, 3 units), ``recurrent_kernel`` (units, 3 units), ``bias`` (2, 3 units):
    the input bias, then the recurrent one.

    Call arguments:
        inputs (numpy.ndarray): the sequences.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> gru = layers.GRU(4, return_sequences=True)
        >>> gru(np.ones((2, 5, 3))).shape, gru.bias.shape
        ((2, 5, 4), (2, 12))
    """

    _GATES = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 reset_after=True, **kwargs):
        _only(activations.get(activation), ("tanh",), "GRU", "activation")
        _only(activations.get(recurrent_activation), ("sigmoid",), "GRU",
              "recurrent_activation")
        _only(reset_after, (True,), "GRU", "reset_after")
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = "sigmoid"
        self.reset_after = True

    def _bias_shape(self):
        return (2, 3 * self.units)

    def _input_bias(self):
        return self.bias.value[0] if self.use_bias else None

    def _run(self, projected):
        h, states, outputs = self._zeros(projected[0]), [], []
        for x_t in projected:
            hz = ops.matmul(h, self.recurrent_kernel.value)
            if self.use_bias:
                hz = ops.bias_add(hz, self.bias.value[1])
            gates, h_new = ops.gru_cell(x_t, hz, h)
            states.append((h, gates, hz))
            outputs.append(h_new)
            h = h_new
        return states, outputs

    def _run_backward(self, states, step_grads):
        recurrent_t = ops.transpose(self.recurrent_kernel.value)
        input_grads, hz_grads = [None] * len(states), [None] * len(states)
        dh_next = None
        for i in reversed(range(len(states))):
            h_prev, gates, hz = states[i]
            dxz, dhz, direct = ops.gru_cell_backward(_plus(step_grads[i], dh_next), gates,
                                                     hz, h_prev)
            input_grads[i], hz_grads[i] = dxz, dhz
            dh_next = ops.add(direct, ops.matmul(dhz, recurrent_t))
        self._recurrent_grad([state[0] for state in states], hz_grads)
        return np.concatenate(input_grads, axis=0), np.concatenate(hz_grads, axis=0)

    def _set_bias_grad(self, input_grads, hz_grads):
        self.bias.grad = np.stack([ops.bias_add_backward(input_grads),
                                   ops.bias_add_backward(hz_grads)])

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(recurrent_activation=self.recurrent_activation,
                      reset_after=self.reset_after)
        return config
