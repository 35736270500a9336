"""Data-parallel training over processes and machines on MPI (``minidl[mpi]``: mpi4py and
an MPI from PyPI), with Keras 3's distribution names.

    from minidl import distribute
    distribute.initialize()                 # rank(), size(); one process without MPI
    distribute.set_distribution(distribute.DataParallel(sync_batchnorm=True))
    model.fit(x, y, batch_size=256)         # the GLOBAL batch, split across ranks
    # mpiexec -n 4 python train.py

Under ``DataParallel`` every rank holds the whole model. ``fit`` broadcasts rank 0's
weights and optimizer state once, walks the same shuffled order on every rank and gives
each rank a contiguous slice of every global batch (sizes differ by at most one; a rank
whose slice is empty still joins every collective). Each rank scales the gradient that
starts its backward pass by ``local rows / global rows``, so that the **sum** of the
ranks' gradients is the gradient of the global batch's mean loss; one ``Allreduce`` of a
flat float32 buffer (each variable's gradient a view into it) sums them before clipping
and the update, so every rank applies the same update. Loss and metric totals and counts
are summed exactly before they are logged, so callbacks decide the same on every rank;
validation and ``evaluate`` are sharded the same way; ``predict`` gathers every rank's
rows in order. Only rank 0 prints progress and writes files (``save``,
``save_weights``, ``ModelCheckpoint``, ``CSVLogger``).

Batch normalization: with ``sync_batchnorm=True`` the batch statistics are those of the
global batch (per-channel count, mean and M2 of every rank, combined in rank order in
float64; in the backward pass the sums of dy and dy * x_hat over the global batch), so
training equals one process on the global batch; without it each rank normalises its own
slice and the moving statistics are averaged over the ranks at the end of every epoch.
"""
import os
import queue
import threading
import time

import numpy as np

from minidl import _threads, random_state

__all__ = ["DataParallel", "GradientReduction", "allreduce", "broadcast_weights", "distribution", "initialize",
           "is_root", "rank", "set_distribution", "size"]


class _SingleProcess:
    """The communicator of a process running alone: every collective is the identity."""

    rank, size, local_size = 0, 1, 1
    threads_ok = False

    def allreduce_into(self, send, receive):
        """``receive[...] = send``."""
        receive[...] = send

    def allreduce(self, array, op):
        """The array itself (one contribution)."""
        return np.array(array, copy=True)

    def broadcast(self, array, root):
        """Nothing to send."""

    def broadcast_object(self, value, root):
        """The value itself."""
        return value

    def allgather_rows(self, array):
        """The rows themselves."""
        return np.array(array, copy=True)

    def allgather_small(self, array):
        """``array`` with a leading axis of one rank."""
        return np.asarray(array)[None]


class _MpiComm:
    """COMM_WORLD through mpi4py's buffer-based calls (never the pickling ones, except
    for the small control values of ``broadcast_object``)."""

    def __init__(self, mpi):
        self.mpi = mpi
        self.comm = mpi.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.local_size = self.comm.Split_type(mpi.COMM_TYPE_SHARED).Get_size()
        self._ops = {"sum": mpi.SUM, "max": mpi.MAX, "min": mpi.MIN}
        # a second communicator for the gradient thread: its Allreduces never interleave
        # with the collectives of the main thread (batch norm, metrics) on COMM_WORLD
        self.threads_ok = mpi.Query_thread() == mpi.THREAD_MULTIPLE
        self.gradient_comm = self.comm.Dup() if self.threads_ok else None

    def allreduce_into(self, send, receive):
        """Sum ``send`` over the ranks into ``receive`` on the gradient communicator (the
        gradient thread's), or on COMM_WORLD when threads may not call MPI."""
        comm = self.gradient_comm or self.comm
        comm.Allreduce(send, receive, op=self.mpi.SUM)

    def allreduce(self, array, op):
        """The elementwise reduction of every rank's array (a new array)."""
        send = np.ascontiguousarray(array)
        out = np.empty_like(send)
        self.comm.Allreduce(send, out, op=self._ops[op])
        return out

    def broadcast(self, array, root):
        """Overwrite ``array`` (contiguous) with root's, in place."""
        self.comm.Bcast(array, root=root)

    def broadcast_object(self, value, root):
        """A small Python value from root (pickled: control data only)."""
        return self.comm.bcast(value, root=root)

    def allgather_rows(self, array):
        """Every rank's rows, concatenated in rank order (ranks may hold different
        numbers of rows, zero included)."""
        array = np.ascontiguousarray(array)
        counts = self.comm.allgather(int(array.shape[0]))
        row = int(np.prod(array.shape[1:], dtype=np.int64))
        out = np.empty((sum(counts),) + array.shape[1:], dtype=array.dtype)
        self.comm.Allgatherv(array.reshape(-1), [out.reshape(-1),
                                                 [c * row for c in counts]])
        return out

    def allgather_small(self, array):
        """Every rank's array (same shape everywhere), stacked in rank order."""
        array = np.ascontiguousarray(array)
        out = np.empty((self.size,) + array.shape, dtype=array.dtype)
        self.comm.Allgather(array, out)
        return out


_STATE = {"comm": _SingleProcess(), "distribution": None}


def initialize(num_threads=None):
    """Join the MPI job this process was started in (``mpiexec -n N python ...``); one
    process on its own without mpi4py or outside ``mpiexec``.

    Each rank then runs ``cores / ranks on this machine`` threads (at least one), unless
    ``MINIDL_NUM_THREADS`` or ``num_threads`` says otherwise.

    Args:
        num_threads (int or None): the threads per rank; None: as above.

    Returns:
        ``(rank, size)``.

    Example:
        >>> from minidl import distribute
        >>> distribute.initialize()  # not started by mpiexec: one process
        (0, 1)
        >>> distribute.size(), distribute.rank()
        (1, 0)
    """
    try:
        from mpi4py import MPI
    except ImportError:
        _STATE["comm"] = _SingleProcess()
    else:
        _STATE["comm"] = _MpiComm(MPI) if MPI.COMM_WORLD.Get_size() > 1 else _SingleProcess()
    comm = _STATE["comm"]
    if num_threads is not None:
        _threads.set_num_threads(num_threads)
    elif comm.size > 1 and not os.environ.get("MINIDL_NUM_THREADS"):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
            (os.cpu_count() or 1)
        _threads.set_num_threads(max(1, cores // comm.local_size))
    return comm.rank, comm.size


def rank():
    """This process's rank (0 alone).

    Example:
        >>> from minidl import distribute
        >>> distribute.rank()
        0
    """
    return _STATE["comm"].rank


def size():
    """The number of processes (1 alone).

    Example:
        >>> from minidl import distribute
        >>> distribute.size()
        1
    """
    return _STATE["comm"].size


def is_root():
    """True on rank 0: the rank that prints and writes files.

    Example:
        >>> from minidl import distribute
        >>> distribute.is_root(), distribute.rank(), distribute.size()  # a single process
        (True, 0, 1)
    """
    return _STATE["comm"].rank == 0


def allreduce(array, op="sum"):
    """The elementwise reduction of ``array`` over every rank (``MPI.Allreduce`` on the
    buffer), as a new array.

    Args:
        array (array-like): numeric data (converted with ``numpy.asarray``), the same
            shape and dtype on every rank.
        op (str): ``"sum"``, ``"mean"`` (computed in float64), ``"max"`` or ``"min"``.

    Example:
        >>> import numpy as np
        >>> from minidl import distribute
        >>> distribute.allreduce(np.array([1.0, 2.0]))  # one process: the array itself
        array([1., 2.])
    """
    if op not in ("sum", "mean", "max", "min"):
        raise ValueError(f"allreduce: argument 'op' must be 'sum', 'mean', 'max' or 'min'. "
                         f"Received: op={op!r}")
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"allreduce: argument 'array' must be numeric. Received: dtype "
                        f"{array.dtype}")
    if op == "mean":
        return _STATE["comm"].allreduce(array.astype(np.float64), "sum") / size()
    return _STATE["comm"].allreduce(array, op)


def broadcast_weights(model, root=0):
    """Give every rank ``root``'s weights and optimizer state (its slots and iteration
    count, once the optimizer has them).

    Args:
        model (Model): a built model.
        root (int): the rank whose values win.

    Example:
        >>> import numpy as np
        >>> from minidl import distribute, layers, models
        >>> model = models.Sequential([layers.Input((2,)), layers.Dense(1)])
        >>> before = model.get_weights()[0].copy()
        >>> distribute.broadcast_weights(model)  # one process: rank 0's weights are already here
        >>> bool(np.array_equal(model.get_weights()[0], before))
        True
    """
    comm = _STATE["comm"]
    if comm.size == 1:
        return
    for variable in model.weights:
        value = np.ascontiguousarray(variable.numpy())
        comm.broadcast(value, root)
        variable.assign(value)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        state = comm.broadcast_object(
            {"iterations": optimizer.iterations, "count": len(optimizer.variables)}, root)
        slots = optimizer.get_state()["slots"]
        if len(slots) != state["count"]:  # a rank that has not stepped yet: make its slots
            optimizer.build(model.trainable_weights)
            slots = optimizer.get_state()["slots"]
        for slot in slots:
            comm.broadcast(slot, root)
        optimizer.set_state({"iterations": state["iterations"], "slots": slots},
                            model.trainable_weights)


class GradientReduction:
    """The gradients of one model summed over the ranks while the backward pass runs.

    The trainable variables, in the order the backward pass finishes them (the last layer
    first), are cut into buckets of about ``bucket_bytes``; each bucket is one flat
    float32 buffer. When the backward pass has finished every variable of a bucket
    (``layer_done``), the bucket is packed and a communication thread sums it over the
    ranks with a blocking ``Allreduce`` while the backward pass goes on with the earlier
    layers; ``finish`` waits for the last bucket and makes each variable's gradient a view
    of its summed bucket. The buckets depend only on the model, so every rank makes the
    same Allreduces in the same order. Without MPI thread support the buckets are summed
    in ``finish`` instead (no overlap, the same sums).

    Args:
        variables (list of Variable): the trainable variables in backward order.
        bucket_bytes (int): the size a bucket reaches before the next one starts.

    Example:
        >>> from minidl import distribute, layers
        >>> distribute.initialize()  # one process here; under mpiexec, every rank
        (0, 1)
        >>> dense = layers.Dense(1000)
        >>> dense.build((None, 300))  # a 1.2 MB kernel and a 4 kB bias
        >>> reduction = distribute.GradientReduction([dense.bias, dense.kernel], bucket_bytes=1 << 19)
        >>> [len(bucket) for bucket in reduction.buckets]  # the bias and the kernel fill one bucket
        [2]
    """

    def __init__(self, variables, bucket_bytes=1 << 19):
        self.buckets, current, size = [], [], 0
        for variable in variables:
            current.append(variable)
            size += 4 * variable.value.size
            if size >= bucket_bytes:
                self.buckets.append(current)
                current, size = [], 0
        if current:
            self.buckets.append(current)
        self._bucket_of = {id(v): i for i, b in enumerate(self.buckets) for v in b}
        self._sums = [np.empty(sum(v.value.size for v in b), np.float32) for b in self.buckets]
        self._overlap = _STATE["comm"].threads_ok
        self._work = queue.Queue()
        self._thread = None
        # for benchmarks: the time finish() waited for the Allreduces, and the time from
        # the first bucket sent to finish() (what the Allreduces could hide behind)
        self.exposed_seconds = self.window_seconds = 0.0
        self._first_sent = None

    def begin(self):
        """Start a step: no bucket sent yet."""
        self._waiting = [len(b) for b in self.buckets]
        self._sent = [False] * len(self.buckets)
        self._first_sent = None
        if self._overlap and self._thread is None:
            self._thread = threading.Thread(target=self._serve, daemon=True,
                                            name="minidl-allreduce")
            self._thread.start()

    def _serve(self):
        comm = _STATE["comm"]
        while True:
            index, send = self._work.get()
            try:
                comm.allreduce_into(send, self._sums[index])
            finally:
                self._work.task_done()

    def _send(self, index):
        flat, offset = np.zeros(self._sums[index].size, np.float32), 0
        for variable in self.buckets[index]:
            n = variable.value.size
            if variable.grad is not None:
                flat[offset:offset + n] = np.asarray(variable.grad).reshape(-1)
            offset += n
        self._sent[index] = True
        if self._first_sent is None:
            self._first_sent = time.perf_counter()
        if self._overlap:
            self._work.put((index, flat))
        else:
            _STATE["comm"].allreduce_into(flat, self._sums[index])

    def layer_done(self, layer):
        """The backward pass has finished ``layer``: send the buckets it completes.

        Args:
            layer (Layer): the layer whose backward pass has just finished.
        """
        for variable in layer.trainable_weights:
            index = self._bucket_of.get(id(variable))
            if index is None:
                continue
            self._waiting[index] -= 1
            if self._waiting[index] == 0 and not self._sent[index]:
                self._send(index)

    def finish(self):
        """Send what is left (in bucket order), wait, and give every variable its summed
        gradient."""
        start = time.perf_counter()
        if self._first_sent is not None:
            self.window_seconds += start - self._first_sent
        for index, sent in enumerate(self._sent):
            if not sent:
                self._send(index)
        start = time.perf_counter()
        if self._overlap:
            self._work.join()
        self.exposed_seconds += time.perf_counter() - start
        for bucket, total in zip(self.buckets, self._sums):
            offset = 0
            for variable in bucket:
                n = variable.value.size
                variable.grad = total[offset:offset + n].reshape(variable.value.shape) \
                    .astype(variable.value.dtype, copy=False)
                offset += n


class DataParallel:
    """Data parallelism: the whole model on every rank, each global batch split across
    the ranks, gradients summed (see the module's description).

    Args:
        sync_batchnorm (bool): batch-normalization statistics over the global batch
            (exact: the same training as one process); False: each rank's own slice,
            moving statistics averaged at the end of every epoch.
        overlap (bool): sum the gradients in buckets while the backward pass runs (a
            communication thread); False: one Allreduce after the backward pass.

    Example:
        >>> from minidl import distribute
        >>> strategy = distribute.DataParallel(sync_batchnorm=True)
        >>> distribute.set_distribution(strategy)
        >>> distribute.distribution() is strategy
        True
        >>> distribute.set_distribution(None)
    """

    def __init__(self, sync_batchnorm=False, overlap=True):
        self.sync_batchnorm = bool(sync_batchnorm)
        self.overlap = bool(overlap)
        self._reductions = {}

    def reduction(self, model):
        """The ``GradientReduction`` of ``model``'s trainable variables (made once per set
        of variables); None without overlap.

        Args:
            model (Model): the model being trained.
        """
        if not self.overlap:
            return None
        variables = [v for layer in reversed(model.layers) for v in layer.trainable_weights]
        variables = [v for v in variables if any(v is w for w in model.trainable_weights)]
        key = tuple(id(v) for v in variables)
        if key not in self._reductions:
            self._reductions[key] = GradientReduction(variables)
        return self._reductions[key]

    # ---------------------------------------------------------------- batches
    @staticmethod
    def local_range(rows):
        """``(start, stop)`` of this rank's slice of a global batch of ``rows`` rows.

        Args:
            rows (int): the number of rows of the global batch.
        """
        comm = _STATE["comm"]
        base, extra = divmod(rows, comm.size)
        start = comm.rank * base + min(comm.rank, extra)
        return start, start + base + (1 if comm.rank < extra else 0)

    def shard(self, data):
        """This rank's rows of a global batch (an array, a list or dict of arrays, or
        None).

        Args:
            data (numpy.ndarray or list or tuple or dict or None): the global batch: an
                array, a list or tuple of arrays (sharded into a list), a dict of arrays,
                or None (returned as is).
        """
        if data is None:
            return None
        if isinstance(data, dict):
            return {k: self.shard(v) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.shard(v) for v in data]
        start, stop = self.local_range(len(data))
        return data[start:stop]

    # ---------------------------------------------------------------- a training step
    @staticmethod
    def synchronize_shuffling():
        """Rank 0's random generator on every rank, so that all walk the same shuffled
        order (before a fit draws its first permutation)."""
        generator = random_state.global_generator()
        generator.bit_generator.state = _STATE["comm"].broadcast_object(
            generator.bit_generator.state, 0)

    @staticmethod
    def reduce_gradients(variables):
        """Sum every rank's gradients in one Allreduce of one flat float32 buffer; each
        variable's ``grad`` becomes a view of the summed buffer.

        Args:
            variables (list of Variable): the trainable variables; a ``grad`` of None
                counts as zeros.
        """
        sizes = [v.value.size for v in variables]
        flat = np.zeros(sum(sizes), dtype=np.float32)
        offset = 0
        for variable, n in zip(variables, sizes):
            if variable.grad is not None:
                flat[offset:offset + n] = np.asarray(variable.grad).reshape(-1)
            offset += n
        total = _STATE["comm"].allreduce(flat, "sum")
        offset = 0
        for variable, n in zip(variables, sizes):
            variable.grad = total[offset:offset + n].reshape(variable.value.shape) \
                .astype(variable.value.dtype, copy=False)
            offset += n

    @staticmethod
    def reduce_totals(values):
        """The sums over the ranks of a vector of float64 totals (metrics, counts).

        Args:
            values (array-like): this rank's totals (converted to float64).
        """
        return _STATE["comm"].allreduce(np.asarray(values, dtype=np.float64), "sum")

    @staticmethod
    def average_moving_statistics(model):
        """The mean over the ranks of every non-trainable weight (the batch-norm moving
        statistics of a run without sync_batchnorm).

        Args:
            model (Model): the model whose non-trainable weights are averaged in place.
        """
        comm = _STATE["comm"]
        for variable in model.weights:
            if not variable.trainable:
                mean = comm.allreduce(variable.numpy().astype(np.float64), "sum") / comm.size
                variable.assign(mean.astype(variable.value.dtype))

    @staticmethod
    def gather_rows(array):
        """Every rank's rows of a prediction, in rank (hence sample) order.

        Args:
            array (array-like): this rank's rows (the number of rows may differ between
                ranks).
        """
        return _STATE["comm"].allgather_rows(array)

    @staticmethod
    def gather_small(array):
        """Every rank's small array, stacked in rank order.

        Args:
            array (array-like): this rank's array, the same shape on every rank.
        """
        return _STATE["comm"].allgather_small(array)


def set_distribution(value):
    """Make ``value`` (a ``DataParallel``, or None for none) the distribution every
    model's fit/evaluate/predict uses.

    Args:
        value (DataParallel or None): the distribution; None for none (TypeError for
            another type).

    Example:
        >>> from minidl import distribute
        >>> distribute.set_distribution(distribute.DataParallel())
        >>> type(distribute.distribution()).__name__
        'DataParallel'
        >>> distribute.set_distribution(None)
        >>> distribute.distribution() is None
        True
    """
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(f"set_distribution: expected a DataParallel or None. Received: "
                        f"{type(value).__name__}")
    _STATE["distribution"] = value


def distribution():
    """The distribution set by ``set_distribution`` (None when none).

    Example:
        >>> from minidl import distribute
        >>> distribute.distribution() is None  # none set
        True
    """
    return _STATE["distribution"]


def active():
    """The distribution to apply now: the one set, when more than one rank runs."""
    current = _STATE["distribution"]
    return current if current is not None and _STATE["comm"].size > 1 else None
