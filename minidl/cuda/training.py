"""Training a ``Sequential`` model on the GPU: ``compile(device="cuda")``.

A :class:`DeviceRunner` takes over the device-specific parts of a model's steps, and
nothing else: the model's ``fit``/``evaluate``/``predict`` loops, callbacks, progress
bar and saving are the CPU code unchanged. With a runner:

* every weight (``Variable``) and optimizer slot lives on the GPU as a float32
  ``DeviceArray`` (moved once, on first use); the optimizers' updates and the layers'
  ops then run there through ``minidl.ops``'s dispatch;
* each step copies its input batch to the GPU (and the targets: one-hot or labels,
  checked on the host first), runs the layers' ``call`` on device arrays, computes the
  loss and its gradient with the fused GPU kernels (categorical and sparse categorical
  cross-entropy; other losses are computed on the host from a copy of the output), and
  back-propagates on the GPU;
* the loss and the accuracy metrics are summed on the GPU (float64 accumulators) and
  copied to the host only when logs are needed: when a callback reads per-batch logs,
  when the progress bar redraws (at most every 0.1 s), and at the end of each epoch.
  Other metrics are updated on the host from a copy of the output.

Why the runner calls the layers' methods itself: ``Layer.__call__`` converts its input
with ``numpy.asarray``, and a few layers' ``backward`` start with ``numpy.asarray(dy)``
(``Flatten``, the pooling layers, the activation wrapper, ``Dropout``) -- both would copy
device arrays to the host (a DeviceArray refuses that). The runner calls ``layer.call``
after checking the input on the host, and for those layers runs the same backward
formula through ``minidl.ops`` (see ``_layer_backward``); a layer it does not know runs
its own ``call``/``backward``, and one that needs NumPy (a TypeError from a device array)
runs on the host from then on, its input and output copied (weightless layers only: a
layer's weights stay on the GPU).
Replacing ``numpy.asarray(dy)`` in those layers by a device-neutral conversion would make
``_layer_backward`` unnecessary.
"""
import time

import numpy as np

from minidl import losses, metrics as metrics_module, ops
from minidl.cuda import _runtime
from minidl.cuda._array import DeviceArray, zeros
from minidl.layers import core, pooling

_LOG_INTERVAL = 0.1  # seconds between metric copies for the progress bar


def _host(x):
    return x.to_numpy() if isinstance(x, DeviceArray) else x


def _overrides(callback, name):
    """Whether a callback overrides a hook of the base Callback."""
    from minidl.callbacks import Callback
    base = getattr(Callback, name, None)
    return getattr(type(callback), name, None) is not base


class DeviceRunner:
    """The GPU side of a ``Sequential`` model compiled with ``device="cuda"``.

    Args:
        model: the model; its weights move to the GPU on the first step.
    """

    def __init__(self, model):
        if not _runtime.available():
            raise RuntimeError(f"compile(device='cuda'): CUDA is not available: "
                               f"{_runtime.reason()}")
        self.model = model
        self._host_layers = set()   # ids of layers that only run on the host
        self._dloss = {}            # (shape, reduction) -> device dloss
        self._targets = None        # device targets of the last loss (for the metrics)
        self._labels = None
        self._acc = None            # float64 accumulators: [loss, device metrics ...]
        self._host_loss = 0.0
        self._count = 0
        self._kinds = []
        self._last_logs = 0.0

    # ---------------------------------------------------------------- placement
    def place(self):
        """Move every weight and optimizer slot to the GPU (cheap when they are)."""
        model = self.model
        for variable in model.weights:
            if variable.device != "cuda":
                variable.to_device("cuda")
        optimizer = model.optimizer
        for _, slots in getattr(optimizer, "_slots", {}).values():
            for name, array in slots.items():
                if not isinstance(array, DeviceArray):
                    slots[name] = DeviceArray.from_numpy(array, np.float32)

    def release(self):
        """Move the weights and optimizer slots back to the host."""
        for variable in self.model.weights:
            variable.to_device("cpu")
        optimizer = self.model.optimizer
        for _, slots in getattr(optimizer, "_slots", {}).values():
            for name, array in slots.items():
                slots[name] = _host(array)

    # ---------------------------------------------------------------- forward
    def _input(self, x):
        """The batch on the GPU as float32, checked against the first layer."""
        first = self.model._layers[0]
        if isinstance(x, DeviceArray):
            first._check_input(x)
            return x if x.dtype == np.float32 else x.astype(np.float32)
        host = first._convert_input(x)
        first._check_input(host)
        return DeviceArray.from_numpy(host, np.float32)

    def _run_on_host(self, layer, function, x):
        self._host_layers.add(id(layer))
        result = function(_host(x))
        return None if result is None else DeviceArray.from_numpy(result, np.float32)

    def forward(self, x, training):
        """The model's output for a batch (a DeviceArray)."""
        self.model._ensure_built(x)
        self.place()
        x = self._input(x)
        for layer in self.model._layers:
            if id(layer) in self._host_layers:
                x = self._run_on_host(layer, lambda h, lay=layer: lay(h, training=training), x)
                continue
            try:
                x = layer.call(x, training=training)
            except TypeError:  # it needs NumPy (HostConversionError, or a NumPy ufunc)
                x = self._run_on_host(layer, lambda h, lay=layer: lay(h, training=training), x)
        return x

    # ---------------------------------------------------------------- backward
    def _layer_backward(self, layer, dy, pre_activation):
        if id(layer) in self._host_layers:
            function = layer.backward_pre_activation if pre_activation else layer.backward
            return self._run_on_host(layer, function, dy)
        if pre_activation:
            return layer.backward_pre_activation(dy)
        if isinstance(layer, core._WithActivation):
            return layer.backward_pre_activation(layer._activation_backward(dy))
        if isinstance(layer, pooling.MaxPooling2D):
            return ops.max_pool_backward(dy, layer._need_cache("argmax"), layer._cache["shape"],
                                         layer.pool_size, layer.strides, layer.padding)
        if isinstance(layer, pooling.AveragePooling2D):
            return ops.average_pool_backward(dy, layer._need_cache("shape"), layer.pool_size,
                                             layer.strides, layer.padding)
        if isinstance(layer, core.Flatten):
            return dy.reshape(layer._need_cache("shape"))
        if isinstance(layer, core.Dropout):
            mask = layer._need_cache("mask")
            return dy if mask is None else ops.multiply(dy, mask)
        try:
            return layer.backward(dy)
        except TypeError:  # it needs NumPy; a genuine error is raised again on the host
            return self._run_on_host(layer, layer.backward, dy)

    def backward(self, grad, from_logits):
        """Back-propagate ``grad`` through the layers (weight gradients into ``.grad``)."""
        layers = self.model._layers
        last = len(layers) - 1
        for i in range(last, -1, -1):
            grad = self._layer_backward(layers[i], grad, i == last and from_logits)
            if grad is None:
                break

    # ---------------------------------------------------------------- loss
    def _device_dloss(self, loss, shape):
        """d(reduced loss)/d(per-sample loss) on the GPU (cached per batch shape)."""
        key = (shape, loss.reduction)
        if key not in self._dloss:
            self._dloss[key] = DeviceArray.from_numpy(
                loss._dloss(shape, None, np.float32).reshape(-1), np.float32)
        return self._dloss[key]

    def loss_and_gradient(self, y, out):
        """(per-sample losses, gradient that starts the backward pass, from_logits) as
        the model's ``_loss_and_output_gradient``, on the GPU where the loss allows."""
        model, loss = self.model, self.model.loss
        self._targets = self._labels = None
        fused = model._uses_fused_softmax()
        pred = model._layers[-1].logits if fused else out
        classes = out.shape[-1] if out.ndim >= 2 else None
        name = type(loss).__name__
        last_axis = getattr(loss, "axis", -1) in (-1, out.ndim - 1)
        if isinstance(loss, losses.CategoricalCrossentropy) and classes and last_axis:
            targets = losses._dense_targets(y, out, name)
            if loss.label_smoothing:
                targets = targets * (1.0 - loss.label_smoothing) + \
                    loss.label_smoothing / classes
            t2 = DeviceArray.from_numpy(targets.reshape(-1, classes), np.float32)
            rows = pred.reshape(-1, classes)
            dloss = self._device_dloss(loss, out.shape[:-1])
            if fused or loss.from_logits:
                per_sample, probs = ops.softmax_cross_entropy(rows, t2)
                grad = ops.softmax_cross_entropy_backward(dloss, probs, t2)
            else:
                per_sample = ops.categorical_crossentropy(t2, rows)
                grad = ops.categorical_crossentropy_backward(dloss, t2, rows)
            self._targets = t2
            return per_sample.reshape(out.shape[:-1]), grad.reshape(pred.shape), fused
        if isinstance(loss, losses.SparseCategoricalCrossentropy) and classes:
            labels = losses._sparse_labels(y, out, name).reshape(-1)
            rows = pred.reshape(-1, classes)
            labels = DeviceArray.from_numpy(
                ops._loss_labels(labels, rows.shape[0], classes, name), np.int64)
            dloss = self._device_dloss(loss, out.shape[:-1])
            if fused or loss.from_logits:
                per_sample, probs = ops.sparse_softmax_cross_entropy(rows, labels)
                grad = ops.sparse_softmax_cross_entropy_backward(dloss, probs, labels)
            else:
                per_sample = ops.sparse_categorical_crossentropy(labels, rows)
                grad = ops.sparse_categorical_crossentropy_backward(dloss, labels, rows)
            self._labels = labels
            return per_sample.reshape(out.shape[:-1]), grad.reshape(pred.shape), fused
        # any other loss: on the host, from a copy of the output
        out_host = out.to_numpy()
        per_sample = loss.compute(y, out_host)
        grad = DeviceArray.from_numpy(np.asarray(loss.gradient(y, out_host)), np.float32)
        return per_sample, grad, False

    # ---------------------------------------------------------------- metrics
    def _kind(self, metric):
        fn = getattr(metric, "_fn", None)
        if getattr(metric, "_fn_kwargs", None):
            return None
        if fn is metrics_module.categorical_accuracy:
            return "categorical"
        if fn is metrics_module.sparse_categorical_accuracy:
            return "sparse"
        return None

    def reset_metrics(self):
        """Zero the accumulators (and reset the host-side metrics)."""
        metrics = self.model._resolve_metrics()
        self._kinds = [self._kind(m) for m in metrics]
        if self._acc is None or self._acc.shape != (1 + len(metrics),):
            self._acc = zeros((1 + len(metrics),), np.float64)
        else:
            self._acc.fill(0.0)
        self._host_loss, self._count = 0.0, 0
        for metric in metrics:
            metric.reset_state()

    def update_metrics(self, per_sample, y, out):
        """Add a batch's loss and metrics (on the GPU where possible)."""
        if self._acc is None:
            self.reset_metrics()
        cuda = _runtime.backend()
        n = len(per_sample)
        if isinstance(per_sample, DeviceArray) and per_sample.ndim == 1:
            cuda.accumulate_sum(self._acc[0:1], per_sample)
        else:  # the CPU's running mean of batch means, weighted by batch size
            self._host_loss += float(np.mean(_host(per_sample), dtype=np.float64)) * n
        self._count += n
        out_host = None
        for i, (metric, kind) in enumerate(zip(self.model._resolve_metrics(), self._kinds)):
            acc = self._acc[i + 1:i + 2]
            if kind == "categorical" and self._targets is not None and out.ndim == 2:
                cuda.accumulate_matches(acc, out, target=self._targets)
            elif kind == "sparse" and self._labels is not None and out.ndim == 2:
                cuda.accumulate_matches(acc, out, labels=self._labels)
            else:
                if out_host is None:
                    out_host = _host(out)
                metric.update_state(y, out_host)
                self._kinds[i] = None

    def metric_logs(self, prefix=""):
        """The running loss and metrics (one copy from the GPU)."""
        self._last_logs = time.monotonic()
        sums = self._acc.to_numpy() if self._acc is not None else np.zeros(1)
        count = max(self._count, 1)
        logs = {prefix + "loss": float((sums[0] + self._host_loss) / count)}
        for i, (metric, kind) in enumerate(zip(self.model._resolve_metrics(), self._kinds)):
            value = sums[i + 1] / count if kind is not None else metric.result()
            logs[prefix + metric.name] = float(value)
        return logs

    def logs_due(self, callback_list, progbar):
        """Whether fit should copy the metrics now: a callback reads per-batch logs, or
        the progress bar may redraw."""
        for callback in getattr(callback_list, "callbacks", []):
            if _overrides(callback, "on_train_batch_end") or _overrides(callback, "on_batch_end"):
                return True
        if progbar is not None and progbar.verbose == 1:
            return time.monotonic() - self._last_logs >= _LOG_INTERVAL
        return False
