"""Recurrent layers: SimpleRNN, LSTM and GRU (``keras.layers``), unrolled over time in
Python around the C core: one GEMM for every step's input projection ``x W``, then per
step a GEMM for ``h U`` and the cell kernel (:func:`minidl.ops.lstm_cell`,
:func:`~minidl.ops.gru_cell`, or an activation for SimpleRNN). Backpropagation through
time runs the steps in reverse and gathers the weight gradients in three GEMMs."""
import numpy as np

from minidl import activations, constraints, initializers, ops, random_state, regularizers
from minidl.layers.base import Layer, dropout_rate, positive_int


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
    _STATES = 1  # state vectors (h; LSTM: h and c)

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.units = positive_int(units, name, "units")
        self.activation = activations.get(activation)
        self.dropout = dropout_rate(dropout, name, "dropout")
        self.recurrent_dropout = dropout_rate(recurrent_dropout, name, "recurrent_dropout")
        self.seed = seed
        self._generator = random_state.generator_for(seed) if seed is not None else None
        for argument, value, allowed in (("stateful", stateful, (False,)),
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
        self.return_state = bool(return_state)
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
        if isinstance(input_shape, list):  # the sequence's shape, then initial states'
            input_shape = input_shape[0]
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
        ``(batch, units)``; with ``return_state``, a list: that, then each final state
        ``(batch, units)``."""
        shape = tuple(input_shape[0] if isinstance(input_shape, list) else input_shape)
        out = shape[:2] + (self.units,) if self.return_sequences else (shape[0], self.units)
        if not self.return_state:
            return out
        return [out] + [(shape[0], self.units)] * self._STATES

    def __call__(self, inputs, training=False, mask=None, initial_state=None):
        """As ``Layer.__call__``; ``initial_state`` (a state array, or a list: LSTM's
        ``[h, c]``) starts the recurrence instead of zeros (symbolic tensors too, as
        Keras's encoder-decoder models pass an encoder's states)."""
        if initial_state is None:
            return super().__call__(inputs, training=training, mask=mask)
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else \
            [initial_state]
        if len(states) != self._STATES:
            raise ValueError(f"{type(self).__name__} '{self.name}': argument "
                             f"'initial_state' must hold {self._STATES} state(s). Received: "
                             f"{len(states)}")
        return super().__call__([inputs] + states, training=training, mask=mask)

    _several_inputs = True  # the sequence, then its initial states

    def _check_inputs(self, arrays):
        """The sequence fits the layer; each initial state is ``(batch, units)``."""
        self._check_input(arrays[0])
        for state in arrays[1:]:
            if state.shape != (arrays[0].shape[0], self.units):
                raise ValueError(f"{type(self).__name__} '{self.name}': an initial state must "
                                 f"have shape {(arrays[0].shape[0], self.units)}. Received: "
                                 f"{state.shape}")

    # ------------------------------------------------------------ the time loop's frame
    def _input_bias(self):
        return self.bias.value if self.use_bias else None

    _consumes_mask = True
    # Bidirectional sets it: the outputs of masked steps are zeros, not the carried state
    _zero_masked_outputs = False

    def compute_mask(self, inputs, mask=None):
        """The input's mask for the output sequence with ``return_sequences``, else
        None (the last state is one vector); None for the states."""
        if isinstance(mask, list):  # with initial states: the sequence's mask
            mask = mask[0]
        out = mask if self.return_sequences else None
        return [out] + [None] * self._STATES if self.return_state else out

    def call(self, inputs, training=False, mask=None):
        """Run the sequence (the last step first with ``go_backwards``); keeps each
        step's state for the backward pass. Where ``mask`` (batch, timesteps) is False
        the step is skipped: the state is carried over, as Keras's masking. A list input
        is the sequence and the initial states."""
        initial = None
        if isinstance(inputs, list):
            inputs, initial = inputs[0], inputs[1:]
        if isinstance(mask, list):
            mask = mask[0]
        if inputs.shape[1] == 0:
            raise ValueError(f"{type(self).__name__} '{self.name}': the input has no "
                             f"timesteps. Received: shape {inputs.shape}")
        input_mask = self._dropout_mask(inputs.shape[0], inputs.shape[-1], self.dropout,
                                        training, inputs.dtype)
        recurrent_mask = self._dropout_mask(inputs.shape[0], self.units,
                                            self.recurrent_dropout, training, inputs.dtype)
        steps = inputs[:, ::-1] if self.go_backwards else inputs
        if input_mask is not None:  # one mask for every step (Keras's)
            steps = steps * input_mask[:, None, :]
        time_major = ops.transpose(steps, (1, 0, 2))  # (timesteps, batch, features)
        t, b, f = time_major.shape
        flat = time_major.reshape(t * b, f)
        projected = ops.matmul(flat, self.kernel.value)
        bias = self._input_bias()
        if bias is not None:
            projected = ops.bias_add(projected, bias)
        keep = self._steps_kept(mask, inputs.shape[:2])
        given = initial is not None
        if not given:
            initial = [np.zeros((b, self.units), dtype=projected.dtype)] * self._STATES
        states, outputs, finals = self._run(projected.reshape(t, b, -1), recurrent_mask, keep,
                                            initial)
        self._cache = {"flat": flat, "states": states, "shape": inputs.shape,
                       "masks": (input_mask, recurrent_mask), "keep": keep,
                       "initial_given": given}
        out = outputs[-1] if not self.return_sequences else \
            np.ascontiguousarray(np.stack(outputs, axis=1))
        return [out] + finals if self.return_state else out

    def backward(self, dy):
        """Backpropagation through time: the weights' gradients into ``.grad``; returns
        the input's gradient (None when ``input_gradient`` is off), and with initial
        states the list ``[input's, each initial state's]``. With ``return_state``,
        ``dy`` is the list of the outputs' gradients (None for an unused one)."""
        flat, states, shape, masks, keep, given = (self._need_cache(k) for k in (
            "flat", "states", "shape", "masks", "keep", "initial_given"))
        t, b = shape[1], shape[0]
        final_grads = [None] * self._STATES
        if self.return_state:
            dy, final_grads = dy[0], list(dy[1:])
        if dy is None:
            dy = np.zeros((b, t, self.units) if self.return_sequences else (b, self.units),
                          dtype=flat.dtype)
        if self.return_sequences:
            step_grads = [dy[:, i] for i in range(t)]
            if keep is not None and self._zero_masked_outputs:  # constant zeros there
                step_grads = [np.where(k, g, 0) for k, g in zip(keep, step_grads)]
        else:
            step_grads = [None] * (t - 1) + [dy]
        input_grads, extra, initial_grads = self._run_backward(states, step_grads, masks[1],
                                                               keep, final_grads)
        self.kernel.grad = ops.matmul(ops.transpose(flat), input_grads)
        if self.use_bias:
            self._set_bias_grad(input_grads, extra)
        dx = None
        if self.input_gradient:
            dx = ops.matmul(input_grads, ops.transpose(self.kernel.value)).reshape(t, b, -1)
            dx = ops.transpose(dx, (1, 0, 2))
            if masks[0] is not None:
                dx = dx * masks[0][:, None, :]
            if self.go_backwards:
                dx = np.ascontiguousarray(dx[:, ::-1])
        if not given:
            return dx
        return [dx] + [np.zeros((b, self.units), dtype=flat.dtype) if g is None else g
                       for g in initial_grads]

    def _steps_kept(self, mask, shape):
        """Per step (in processing order), the ``(batch, 1)`` booleans of the rows the
        mask keeps; None without a mask."""
        if mask is None:
            return None
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != tuple(shape):
            raise ValueError(f"{type(self).__name__} '{self.name}': the mask must have shape "
                             f"{tuple(shape)} (batch, timesteps). Received: {mask.shape}")
        steps = mask[:, ::-1] if self.go_backwards else mask
        return [steps[:, t, None] for t in range(steps.shape[1])]

    def _output(self, carried, new, keep):
        """A step's output: the carried state (Keras's default at masked steps), or
        zeros there when the layer is one direction of a Bidirectional."""
        if keep is None or not self._zero_masked_outputs:
            return carried
        return np.where(keep, new, 0).astype(new.dtype)

    def _dropout_mask(self, batch, width, rate, training, dtype):
        """A ``(batch, width)`` dropout mask (kept values scaled by 1 / (1 - rate)), or
        None outside training or at rate 0."""
        if not training or rate == 0:
            return None
        generator = self._generator or random_state.global_generator()
        keep = generator.random((batch, width)) >= rate
        return keep.astype(dtype) / dtype.type(1.0 - rate)

    def _set_bias_grad(self, input_grads, extra):
        """The bias's gradient from the steps' input-projection gradients (``extra``: what
        a subclass's backward adds; GRU's recurrent-bias gradients)."""
        self.bias.grad = ops.bias_add_backward(input_grads)

    def _recurrent_grad(self, previous_states, step_grads):
        """``U``'s gradient: the recurrent products' inputs (``h_prev``, masked by
        recurrent dropout) transposed, times their gradients."""
        h_prev = np.concatenate(previous_states, axis=0)
        self.recurrent_kernel.grad = ops.matmul(ops.transpose(h_prev),
                                                np.concatenate(step_grads, axis=0))

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(
            units=self.units, activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            recurrent_initializer=initializers.serialize(self.recurrent_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            dropout=self.dropout, recurrent_dropout=self.recurrent_dropout, seed=self.seed,
            return_sequences=self.return_sequences, return_state=self.return_state,
            go_backwards=self.go_backwards,
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


def _masked(a, mask):
    """``a`` times a dropout mask (``a`` itself without one)."""
    return a if mask is None else ops.multiply(a, mask)


def _step(keep, i):
    """Step i's kept rows, or None without a mask."""
    return None if keep is None else keep[i]


def _kept(new, old, keep):
    """``new`` in the rows a step keeps, ``old`` (carried over) in the masked ones."""
    return new if keep is None else np.where(keep, new, old).astype(new.dtype)


def _split(grad, keep):
    """A state's gradient split into the part through the step's cell (kept rows) and
    the part carried to the previous state (masked rows; None without a mask)."""
    if keep is None or grad is None:
        return grad, None
    return np.where(keep, grad, 0).astype(grad.dtype), np.where(keep, 0, grad).astype(grad.dtype)


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
        dropout (float): in [0, 1): the fraction of the input's features dropped in
            training (one mask per sequence, the same at every step, as Keras's).
        recurrent_dropout (float): in [0, 1): the fraction of the state dropped before
            the recurrent product in training (one mask per sequence).
        seed (int or None): the seed of the layer's own dropout generator (None:
            minidl's global generator).
        return_sequences (bool): return every step's output, not only the last.
        return_state (bool): also return the final state(s): the output becomes a list
            ``[output, h]`` (LSTM: ``[output, h, c]``).
        go_backwards (bool): process the sequence from its last step (the returned
            sequence is in processing order, as Keras's).
        stateful (bool): only False (not implemented).
        unroll (bool): accepted (the loop always runs step by step).
        **kwargs: Layer arguments.

    Input shape: ``(batch, timesteps, features)``. Output shape: ``(batch, units)``, or
    ``(batch, timesteps, units)`` with ``return_sequences``. The initial state is zero.

    Call arguments:
        inputs (numpy.ndarray): the sequences.
        training (bool): dropout and recurrent dropout apply when True.
        mask (numpy.ndarray or None): ``(batch, timesteps)`` booleans: False steps are
            skipped (the state carried over).
        initial_state (numpy.ndarray or list of numpy.ndarray or None): the state(s) the
            recurrence starts from (default zeros): ``h`` (LSTM: ``[h, c]``), each
            ``(batch, units)``; symbolic tensors in a functional model (an encoder's
            final states for a decoder).

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> rnn = layers.SimpleRNN(4, return_sequences=True)
        >>> rnn(np.ones((2, 5, 3))).shape, rnn.recurrent_kernel.shape
        ((2, 5, 4), (4, 4))
    """

    def _run(self, projected, mask, keep, initial):
        h, states, outputs = initial[0], [], []
        for i, x_t in enumerate(projected):
            h_in = _masked(h, mask)
            z = ops.add(x_t, ops.matmul(h_in, self.recurrent_kernel.value))
            h_new = ops.activation(z, self.activation)
            states.append((h_in, h_new, z))
            h = _kept(h_new, h, _step(keep, i))
            outputs.append(self._output(h, h_new, _step(keep, i)))
        return states, outputs, [h]

    def _run_backward(self, states, step_grads, mask, keep, final_grads):
        recurrent_t = ops.transpose(self.recurrent_kernel.value)
        grads, dh_next = [None] * len(states), final_grads[0]
        for i in reversed(range(len(states))):
            _, h, z = states[i]
            dh, carried = _split(_plus(step_grads[i], dh_next), _step(keep, i))
            dz = ops.activation_backward(dh, h, self.activation, x=z)
            grads[i] = dz
            dh_next = _plus(_masked(ops.matmul(dz, recurrent_t), mask), carried)
        self._recurrent_grad([state[0] for state in states], grads)
        return np.concatenate(grads, axis=0), None, [dh_next]


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
        training (bool): dropout and recurrent dropout apply when True.
        mask (numpy.ndarray or None): as :class:`SimpleRNN`'s.
        initial_state (list of numpy.ndarray or None): as :class:`SimpleRNN`'s.

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
    _STATES = 2

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

    def _run(self, projected, mask, keep, initial):
        h, c = initial
        states, outputs = [], []
        for i, x_t in enumerate(projected):
            h_in = _masked(h, mask)
            z = ops.add(x_t, ops.matmul(h_in, self.recurrent_kernel.value))
            gates, c_new, h_new = ops.lstm_cell(z, c)
            states.append((h_in, c, gates, c_new))
            h, c = _kept(h_new, h, _step(keep, i)), _kept(c_new, c, _step(keep, i))
            outputs.append(self._output(h, h_new, _step(keep, i)))
        return states, outputs, [h, c]

    def _run_backward(self, states, step_grads, mask, keep, final_grads):
        recurrent_t = ops.transpose(self.recurrent_kernel.value)
        grads = [None] * len(states)
        dh_next, dc_next = final_grads
        for i in reversed(range(len(states))):
            _, c_prev, gates, c = states[i]
            dh, h_carried = _split(_plus(step_grads[i], dh_next), _step(keep, i))
            dc, c_carried = _split(dc_next, _step(keep, i))
            dz, dc_prev = ops.lstm_cell_backward(dh, dc, gates, c, c_prev)
            grads[i] = dz
            dc_next = _plus(dc_prev, c_carried)
            dh_next = _plus(_masked(ops.matmul(dz, recurrent_t), mask), h_carried)
        self._recurrent_grad([state[0] for state in states], grads)
        return np.concatenate(grads, axis=0), None, [dh_next, dc_next]

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
        training (bool): dropout and recurrent dropout apply when True.
        mask (numpy.ndarray or None): as :class:`SimpleRNN`'s.
        initial_state (list of numpy.ndarray or None): as :class:`SimpleRNN`'s.

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

    def _run(self, projected, mask, keep, initial):
        h, states, outputs = initial[0], [], []
        for i, x_t in enumerate(projected):
            h_in = _masked(h, mask)
            hz = ops.matmul(h_in, self.recurrent_kernel.value)
            if self.use_bias:
                hz = ops.bias_add(hz, self.bias.value[1])
            gates, h_new = ops.gru_cell(x_t, hz, h)
            states.append((h_in, h, gates, hz))
            h = _kept(h_new, h, _step(keep, i))
            outputs.append(self._output(h, h_new, _step(keep, i)))
        return states, outputs, [h]

    def _run_backward(self, states, step_grads, mask, keep, final_grads):
        recurrent_t = ops.transpose(self.recurrent_kernel.value)
        input_grads, hz_grads = [None] * len(states), [None] * len(states)
        dh_next = final_grads[0]
        for i in reversed(range(len(states))):
            _, h_prev, gates, hz = states[i]
            dh, carried = _split(_plus(step_grads[i], dh_next), _step(keep, i))
            dxz, dhz, direct = ops.gru_cell_backward(dh, gates, hz, h_prev)
            input_grads[i], hz_grads[i] = dxz, dhz
            dh_next = _plus(ops.add(direct, _masked(ops.matmul(dhz, recurrent_t), mask)),
                            carried)
        self._recurrent_grad([state[0] for state in states], hz_grads)
        return np.concatenate(input_grads, axis=0), np.concatenate(hz_grads, axis=0), [dh_next]

    def _set_bias_grad(self, input_grads, hz_grads):
        self.bias.grad = np.stack([ops.bias_add_backward(input_grads),
                                   ops.bias_add_backward(hz_grads)])

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(recurrent_activation=self.recurrent_activation,
                      reset_after=self.reset_after)
        return config


_MERGES = ("concat", "sum", "mul", "ave")


class Bidirectional(Layer):
    """Runs a recurrent layer over the sequence in both directions and merges the two
    outputs (``keras.layers.Bidirectional``): the backward copy is the layer's config
    with ``go_backwards`` flipped (its own weights); with ``return_sequences`` its output
    sequence is put back in time order before the merge.

    Args:
        layer (SimpleRNN or LSTM or GRU): the forward layer.
        merge_mode (str): ``'concat'`` (default), ``'sum'``, ``'mul'`` or ``'ave'`` (None,
            Keras's list of both outputs, is not implemented).
        weights (None): only None (Keras 2's initial weights: use ``set_weights``).
        backward_layer (SimpleRNN or LSTM or GRU or None): the backward layer (default: a
            copy of ``layer`` with ``go_backwards`` flipped).
        **kwargs: Layer arguments.

    Input shape: ``(batch, timesteps, features)``. Output shape: the layer's, with the
    last axis doubled for ``'concat'``. Weights: the forward layer's, then the backward
    layer's.

    Call arguments:
        inputs (numpy.ndarray): the sequences.
        training (bool): passed to both layers.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> both = layers.Bidirectional(layers.LSTM(4, return_sequences=True))
        >>> both(np.ones((2, 5, 3))).shape, len(both.weights)
        ((2, 5, 8), 6)
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None,
                 **kwargs):
        if not isinstance(layer, _Recurrent):
            raise TypeError(f"Bidirectional: argument 'layer' must be a SimpleRNN, LSTM or "
                            f"GRU layer. Received: {type(layer).__name__}")
        _only(merge_mode, _MERGES, "Bidirectional", "merge_mode")
        _only(layer.return_state, (False,), "Bidirectional", "layer.return_state")
        _only(weights, (None,), "Bidirectional", "weights")
        kwargs.setdefault("name", "bidirectional_" + layer.name)
        super().__init__(**kwargs)
        if backward_layer is None:
            config = dict(layer.get_config(), go_backwards=not layer.go_backwards,
                          name="backward_" + layer.name)
            backward_layer = type(layer).from_config(config)
        elif not isinstance(backward_layer, _Recurrent) or \
                backward_layer.return_sequences != layer.return_sequences:
            raise ValueError("Bidirectional: argument 'backward_layer' must be a recurrent "
                             "layer with the forward layer's return_sequences")
        self.forward_layer, self.backward_layer = layer, backward_layer
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        # masked steps output zeros in both directions, so that the merged steps align
        layer._zero_masked_outputs = backward_layer._zero_masked_outputs = \
            self.return_sequences
        self._input_gradient = True

    @property
    def input_gradient(self):
        """Whether the model needs the input's gradient (both layers follow it)."""
        return self._input_gradient

    @input_gradient.setter
    def input_gradient(self, value):
        self._input_gradient = self.forward_layer.input_gradient = \
            self.backward_layer.input_gradient = bool(value)

    def _inner_layers(self):
        return [self.forward_layer, self.backward_layer]

    def build(self, input_shape):
        """Build both layers; this layer's weights are theirs."""
        for layer in self._inner_layers():
            if not layer.built:
                layer.build(tuple(input_shape))
        self._variables = self.forward_layer.weights + self.backward_layer.weights
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        """The layer's output shape (last axis doubled for 'concat')."""
        shape = self.forward_layer.compute_output_shape(input_shape)
        return shape[:-1] + (2 * shape[-1],) if self.merge_mode == "concat" else shape

    def _aligned(self, backward_sequence):
        """The backward layer's sequence in time order (its own order reversed)."""
        if not self.return_sequences:
            return backward_sequence
        return np.ascontiguousarray(backward_sequence[:, ::-1])

    _consumes_mask = True

    def compute_mask(self, inputs, mask=None):
        """The input's mask with ``return_sequences``, else None."""
        return mask if self.return_sequences else None

    def call(self, inputs, training=False, mask=None):
        """Both directions (skipping the masked steps), merged."""
        forward = self.forward_layer(inputs, training=training, mask=mask)
        backward = self._aligned(self.backward_layer(inputs, training=training, mask=mask))
        self._cache = {"outputs": (forward, backward)}
        if self.merge_mode == "concat":
            return np.concatenate([forward, backward], axis=-1)
        if self.merge_mode == "sum":
            return ops.add(forward, backward)
        if self.merge_mode == "mul":
            return ops.multiply(forward, backward)
        return ops.scale(ops.add(forward, backward), 0.5)

    def backward(self, dy):
        """Each direction's share of ``dy`` through its layer; the input's gradient is the
        sum of both (None when ``input_gradient`` is off)."""
        forward, backward = self._need_cache("outputs")
        if self.merge_mode == "concat":
            units = forward.shape[-1]
            d_forward, d_backward = dy[..., :units], dy[..., units:]
        elif self.merge_mode == "sum":
            d_forward = d_backward = dy
        elif self.merge_mode == "mul":
            d_forward, d_backward = ops.multiply(dy, backward), ops.multiply(dy, forward)
        else:
            d_forward = d_backward = ops.scale(dy, 0.5)
        dx_forward = self.forward_layer.backward(np.ascontiguousarray(d_forward))
        dx_backward = self.backward_layer.backward(self._aligned(d_backward))
        return _plus(dx_forward, dx_backward)

    def get_config(self):
        """The wrapped layers' configs and the merge mode."""
        config = super().get_config()
        config.update(layer=_serialized(self.forward_layer), merge_mode=self.merge_mode,
                      backward_layer=_serialized(self.backward_layer))
        return config

    @classmethod
    def from_config(cls, config):
        """The layer of ``get_config``'s output."""
        config = dict(config)
        config["layer"] = _deserialized(config["layer"])
        if config.get("backward_layer") is not None:
            config["backward_layer"] = _deserialized(config["backward_layer"])
        return cls(**config)


def _serialized(layer):
    """A recurrent layer as ``{"class_name", "config"}`` (as ``layers.serialize``)."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def _deserialized(spec):
    """The recurrent layer of :func:`_serialized`'s dict."""
    known = {cls.__name__: cls for cls in (SimpleRNN, LSTM, GRU)}
    if not isinstance(spec, dict) or spec.get("class_name") not in known:
        raise ValueError(f"Bidirectional: the wrapped layer must be a serialized SimpleRNN, "
                         f"LSTM or GRU. Received: {spec!r}"[:300])
    return known[spec["class_name"]].from_config(spec["config"])
