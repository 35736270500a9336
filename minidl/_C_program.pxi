# The step program (csrc/tensor_ops.c): kernel calls recorded once, then run in order by
# one call with the GIL released. Every wrapper below builds an md_op of its call; without
# a program it runs it at once (md_op_run), with one it appends it (Program.record).

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_C_CONTIGUOUS
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memset
import time

cdef str op_name(const md_op *op):
    """The wrapper that records calls of this op's kind, for messages."""
    return md_op_name(op.kind).decode()


cdef md_op new_op(int kind, bint f64) noexcept:
    """A call of kind ``kind`` with every argument zero (NULL pointers)."""
    cdef md_op op
    memset(&op, 0, sizeof(op))
    op.kind = kind
    op.f64 = f64
    return op


cdef class Program:
    """Kernel calls recorded once and run in order by one call (a step program).

    Each kernel wrapper that takes a ``program`` argument (``gemm``, ``bias_add``,
    ``reduce_sum``, the activation and softmax passes, the convolution, pooling and
    batch-norm passes, the fused softmax cross-entropies) checks its arguments as always
    and, given a program, appends its call instead of running it. ``run`` then makes the
    same calls, with the same arguments and so the same bits, without returning to Python
    between them. The program keeps every recorded array alive. The arrays named by
    ``declare_inputs`` are placeholders: each ``run`` passes arrays of the same shape and
    dtype that stand in for them (a batch, its targets). A program is not for concurrent
    use: ``run`` raises RuntimeError while another thread runs it.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> program = _C.Program()
        >>> x, y = np.zeros(3), np.empty(3)
        >>> _C.activation_forward(y, x, _C.ACTIVATION_CODES["relu"], program=program)
        >>> _C.bias_add(y.reshape(1, 3), y.reshape(1, 3), np.ones(3), program=program)
        >>> len(program)
        2
        >>> program.declare_inputs(x)
        >>> program.run(np.array([-1.0, 0.5, 2.0]))
        >>> y
        array([1. , 1.5, 3. ])
    """
    cdef md_op *ops
    cdef int64_t count, capacity
    cdef list held     # per recorded call, the tuple of its arrays (kept alive)
    cdef list inputs   # per declared input: (shape, dtype) a run's array must have
    cdef list uses     # per declared input: the (call, argument) slots it fills
    cdef bint running

    def __cinit__(self):
        self.ops = NULL
        self.count = self.capacity = 0
        self.held, self.inputs, self.uses = [], [], []
        self.running = False

    def __dealloc__(self):
        free(self.ops)

    def __len__(self):
        return self.count

    cdef int record(self, const md_op *op, str where, tuple arrays) except -1:
        """Append one checked call (its arrays are kept alive with it)."""
        cdef md_op *grown
        if self.inputs:
            raise ValueError(f"{where}: a program is complete once its inputs are declared; "
                             f"record every call before declare_inputs")
        if self.count == self.capacity:
            grown = <md_op *>realloc(self.ops, (2 * self.capacity + 8) * sizeof(md_op))
            if grown == NULL:
                raise MemoryError(f"{where}: no memory to record the call")
            self.ops, self.capacity = grown, 2 * self.capacity + 8
        self.ops[self.count] = op[0]
        self.count += 1
        self.held.append(arrays)
        return 0

    def declare_inputs(self, *placeholders):
        """Name the recorded arrays that each ``run`` replaces (a batch, its targets).

        A placeholder must be used by the recorded calls from its first element (as the
        wrappers pass whole arrays or reshaped views of them); a call that reads it from an
        offset could not be redirected, so it raises ValueError.

        Args:
            *placeholders (numpy.ndarray): C-contiguous arrays the recorded calls use.
        """
        if self.inputs:
            raise ValueError("Program.declare_inputs: the inputs are already declared")
        uses = []
        for k, array in enumerate(placeholders):
            if not isinstance(array, np.ndarray) or not array.flags.c_contiguous:
                raise ValueError(f"Program.declare_inputs: input {k} must be a C-contiguous "
                                 f"numpy.ndarray. Received: {type(array).__name__}")
            uses.append(self._uses_of(k, array))
        self.inputs = [(a.shape, a.dtype) for a in placeholders]
        self.uses = uses
        self.held.append(placeholders)

    def _uses_of(self, int k, object array):
        """The (call, argument) slots that point at the array's first element."""
        cdef uintptr_t start = <uintptr_t>array.__array_interface__["data"][0]
        cdef uintptr_t end = start + <uintptr_t>array.nbytes
        cdef uintptr_t p
        found = []
        for i in range(self.count):
            for j in range(MD_OP_MAX_ARGS):
                p = <uintptr_t>self.ops[i].arg[j]
                if p == start:
                    found.append((i, j))
                elif start < p < end:
                    raise ValueError(f"Program.declare_inputs: call {i} "
                                     f"({op_name(&self.ops[i])}) reads input {k} from "
                                     f"an offset; only whole arrays can be replaced")
        if not found:
            raise ValueError(f"Program.declare_inputs: input {k} (shape {array.shape}) is "
                             f"used by no recorded call")
        return found

    cdef int _bind(self, tuple arrays) except -1:
        """Check a run's arrays against the placeholders, then point the calls at them."""
        cdef Py_buffer view
        if len(arrays) != len(self.inputs):
            raise ValueError(f"Program.run: expected {len(self.inputs)} arrays (one per "
                             f"declared input). Received: {len(arrays)}")
        for k, (array, (shape, dtype)) in enumerate(zip(arrays, self.inputs)):
            if not isinstance(array, np.ndarray) or array.shape != shape or \
                    array.dtype != dtype or not array.flags.c_contiguous:
                raise ValueError(f"Program.run: input {k} must be a C-contiguous {dtype} "
                                 f"array of shape {shape}. Received: "
                                 f"{getattr(array, 'dtype', type(array).__name__)} "
                                 f"{getattr(array, 'shape', '')}")
        for array, slots in zip(arrays, self.uses):
            PyObject_GetBuffer(array, &view, PyBUF_C_CONTIGUOUS)
            for i, j in slots:
                self.ops[<int64_t>i].arg[<int>j] = view.buf
            PyBuffer_Release(&view)
        return 0

    cdef int _check_call(self, md_status st, int64_t index) except -1:
        if st != MD_OK:
            check_status(st, f"Program.run: call {index} ({op_name(&self.ops[index])})")
        return 0

    def run(self, *arrays):
        """Run every recorded call in order, the declared inputs replaced by ``arrays``.

        Args:
            *arrays (numpy.ndarray): one C-contiguous array per declared input, each of
                its placeholder's shape and dtype.

        Raises:
            ValueError: an array does not match its placeholder (nothing runs), or a
                call's kernel refused its arguments (the message names the call; the calls
                before it have run).
        """
        cdef md_status st
        cdef int64_t failed = -1
        if self.running:
            raise RuntimeError("Program.run: the program is running in another thread")
        self.running = True
        try:
            self._bind(arrays)
            with nogil:
                st = md_program_run(self.ops, self.count, &failed)
        finally:
            self.running = False
        self._check_call(st, failed)

    def profile(self, *arrays):
        """``run``, timing each call: returns ``[(kernel name, seconds), ...]`` in call
        order (for profiling a step; the calls compute what ``run`` computes).

        Args:
            *arrays (numpy.ndarray): as for ``run``.

        Example:
            >>> import numpy as np
            >>> from minidl import _C
            >>> program, x, y = _C.Program(), np.zeros(4), np.empty(4)
            >>> _C.activation_forward(y, x, _C.ACTIVATION_CODES["tanh"], program=program)
            >>> program.declare_inputs(x)
            >>> [name for name, seconds in program.profile(np.ones(4))]
            ['activation_forward']
        """
        cdef md_status st
        if self.running:
            raise RuntimeError("Program.profile: the program is running in another thread")
        self.running = True
        times = []
        try:
            self._bind(arrays)
            for i in range(self.count):
                start = time.perf_counter()
                with nogil:
                    st = md_op_run(&self.ops[i])
                self._check_call(st, i)
                times.append((op_name(&self.ops[i]), time.perf_counter() - start))
        finally:
            self.running = False
        return times
