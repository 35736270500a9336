"""Keras's custom training steps: a model that overrides ``train_step``, ``test_step`` or
``predict_step`` has ``fit``, ``evaluate`` and ``predict`` call them, with the pieces
such a step uses (``compute_loss``, ``compiled_loss``, ``compiled_metrics``,
``metrics``, ``trainable_variables``) and :class:`minidl.GradientTape` for its
gradients."""
import numpy as np

from minidl import autodiff, metrics as metrics_module
from minidl.models import data_adapter

_STEPS = ("train_step", "test_step", "predict_step")


class CompiledLoss:
    """Keras 2's ``model.compiled_loss``: the compiled loss (plus the given
    regularization losses), which also updates the model's ``loss`` metric.

    Args:
        model (Model): the compiled model.
    """

    def __init__(self, model):
        self.model = model

    def __call__(self, y_true, y_pred, sample_weight=None, regularization_losses=None):
        """The loss of ``y_pred`` against ``y_true``.

        Args:
            y_true (array-like or list): the targets.
            y_pred (Tensor or array-like or list): the model's output.
            sample_weight (array-like or None): one weight per sample.
            regularization_losses (list or None): penalties added to the loss
                (``model.losses``).

        Returns:
            The loss (a Tensor under a GradientTape, else a float).
        """
        total = self.model._compiled_loss_value(y_true, y_pred, sample_weight)
        for penalty in regularization_losses or ():
            total = total + penalty
        self.model._loss_tracker.update_state(float(total),
                                              sample_weight=_batch_size(y_pred))
        return total


class CompiledMetrics:
    """Keras 2's ``model.compiled_metrics``: the metrics given to ``compile``.

    Args:
        model (Model): the compiled model.
    """

    def __init__(self, model):
        self.model = model

    @property
    def metrics(self):
        """The compiled metric objects."""
        return self.model._resolve_metrics()

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Update every compiled metric with a batch.

        Args:
            y_true (array-like): the targets.
            y_pred (Tensor or array-like): the model's output.
            sample_weight (array-like or None): one weight per sample.
        """
        for metric in self.metrics:
            metric.update_state(autodiff.value_of(y_true), autodiff.value_of(y_pred),
                                sample_weight=sample_weight)

    def reset_state(self):
        """Reset every compiled metric."""
        for metric in self.metrics:
            metric.reset_state()


def _batch_size(y_pred):
    first = y_pred[0] if isinstance(y_pred, (list, tuple)) else y_pred
    shape = np.shape(autodiff.value_of(first))
    return shape[0] if shape else 1


def _unpack(data):
    """``(x, y, sample_weight)`` of a batch as a custom step receives it."""
    if isinstance(data, tuple) and 1 <= len(data) <= 3:
        return tuple(data) + (None,) * (3 - len(data))
    return data, None, None


class CustomSteps:
    """What a ``Model`` subclass's own ``train_step``/``test_step``/``predict_step``
    uses (mixed into ``Sequential``, so every model has it)."""

    @property
    def trainable_variables(self):
        """The trainable weights (Keras's other name for ``trainable_weights``)."""
        return self.trainable_weights

    @property
    def _loss_tracker(self):
        tracker = self.__dict__.get("_custom_loss_tracker")
        if tracker is None:
            tracker = self.__dict__["_custom_loss_tracker"] = metrics_module.Mean(name="loss")
        return tracker

    @property
    def metrics(self):
        """The model's metric objects: the ``loss`` tracker, then the compiled metrics
        (a subclass may list its own). ``fit`` and ``evaluate`` reset them when a custom
        step runs."""
        return [self._loss_tracker] + list(self._resolve_metrics() if self.built else [])

    @property
    def compiled_loss(self):
        """Keras 2's compiled loss object (:class:`CompiledLoss`)."""
        return CompiledLoss(self)

    @property
    def compiled_metrics(self):
        """Keras 2's compiled metrics object (:class:`CompiledMetrics`)."""
        return CompiledMetrics(self)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of a batch plus the regularization penalties
        (``model.losses``), as Keras 3's ``Model.compute_loss``.

        Args:
            x (array-like or None): the inputs (unused; Keras passes them).
            y (array-like or list): the targets.
            y_pred (Tensor or array-like or list): the model's output.
            sample_weight (array-like or None): one weight per sample.
            training (bool): unused (Keras passes it).

        Returns:
            The loss (a Tensor under a GradientTape, else a float).
        """
        total = self._compiled_loss_value(y, y_pred, sample_weight)
        for penalty in self.losses:
            total = total + penalty
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update the compiled metrics with a batch; return every metric's result.

        Args:
            x (array-like or None): the inputs (unused).
            y (array-like): the targets.
            y_pred (Tensor or array-like): the model's output.
            sample_weight (array-like or None): one weight per sample.

        Returns:
            A dict ``{metric name: result}``.
        """
        self.compiled_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self):
        """``{metric name: float result}`` of ``self.metrics``."""
        return {metric.name: float(metric.result()) for metric in self.metrics}

    def reset_metrics(self):
        """Reset ``self.metrics``."""
        for metric in self.metrics:
            metric.reset_state()

    def _compiled_loss_value(self, y, y_pred, sample_weight):
        if self.loss is None:
            raise ValueError(f"Model '{self.name}': compile the model with a loss before "
                             f"using compute_loss or compiled_loss")
        losses = getattr(self, "_output_losses", None)
        if losses is None:
            return self.loss(y, y_pred, sample_weight=sample_weight)
        total = 0.0
        for loss, weight, target, output in zip(losses, self._loss_weights, y, y_pred):
            total = total + loss(target, output, sample_weight=sample_weight) * weight
        return total

    # ---------------------------------------------------------------- the loops' side
    def _custom_step(self, name):
        """True when the model's class overrides Keras's ``name`` step."""
        return callable(getattr(type(self), name, None))

    def _run_custom_step(self, name, x, y):
        """Call the overriding ``name`` step on one batch; its logs as floats."""
        data = x if name == "predict_step" else (x, y) if not isinstance(
            y, data_adapter.WeightedTargets) else (x, y.targets, y.weights)
        result = getattr(self, name)(data)
        if name == "predict_step":
            return autodiff.value_of(result)
        if not isinstance(result, dict):
            raise TypeError(f"{type(self).__name__}.{name} must return a dict of logs "
                            f"(metric name: value). Received: {type(result).__name__}")
        return {key: float(autodiff.value_of(value)) for key, value in result.items()}
