"""The training loop of the PyTorch cross-checks (optional: needs ``pip install torch``).

Trains a PyTorch model on exactly the batches a minidl experiment sees (NHWC NumPy
arrays, moved to NCHW views) and returns what the minidl scripts record: a Keras-style
per-epoch history (training loss and accuracy as epoch means, validation in evaluation
mode), the seconds of every epoch and every batch's loss and accuracy.
"""
import numpy as np
import torch
import torch.nn.functional as F

from experiment_utils import BatchLogger, EpochTimer

EVAL_BATCH = 1000


class KerasRMSprop(torch.optim.Optimizer):
    """Keras's RMSprop, which minidl implements: ``v = rho v + (1 - rho) g**2`` and
    ``w -= lr g / sqrt(v + epsilon)`` (epsilon inside the square root; PyTorch's
    ``torch.optim.RMSprop`` adds it outside, as Keras 2 did).

    Args:
        params: the parameters to optimise.
        lr: learning rate (Keras's default 0.001).
        rho: discounting factor (Keras's default 0.9).
        eps: added to the mean square inside the root (Keras's default 1e-7).
    """

    def __init__(self, params, lr=1e-3, rho=0.9, eps=1e-7):
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter with a gradient."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                v = self.state[p].setdefault("velocity", torch.zeros_like(p))
                v.mul_(group["rho"]).addcmul_(p.grad, p.grad, value=1 - group["rho"])
                p.addcdiv_(p.grad, (v + group["eps"]).sqrt(), value=-group["lr"])


def nchw(images):
    """NHWC float32 NumPy images as an NCHW tensor (a channels-last view, no copy)."""
    return torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2)


def labels_of(y):
    """Class indices from one-hot rows or from indices."""
    y = np.asarray(y)
    return torch.from_numpy((y.argmax(axis=1) if y.ndim == 2 else y.reshape(-1)).astype(np.int64))


def evaluate(model, loss_fn, x, y):
    """Mean loss and accuracy over (x, y) in evaluation mode."""
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(x), EVAL_BATCH):
            logits = model(nchw(x[start:start + EVAL_BATCH]))
            target = labels_of(y[start:start + EVAL_BATCH])
            total_loss += float(loss_fn(logits, target, reduction="sum"))
            correct += int((logits.argmax(1) == target).sum())
    model.train()
    return total_loss / len(x), correct / len(x)


def fit(model, loss_fn, optimizer, epoch_batches, epochs, validation_data, verbose=True):
    """Train ``epochs`` epochs of ``epoch_batches()`` (an iterable of NumPy (x, y)) and
    return (history dict, EpochTimer, BatchLogger)."""
    timer, batches = EpochTimer(), BatchLogger()
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    model.train()
    for epoch in range(epochs):
        timer.on_epoch_begin(epoch)
        batches.on_epoch_begin(epoch)
        loss_sum = correct = seen = 0.0
        for step, (xb, yb) in enumerate(epoch_batches()):
            target = labels_of(yb)
            optimizer.zero_grad(set_to_none=True)
            logits = model(nchw(xb))
            loss = loss_fn(logits, target)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(target)
            correct += int((logits.detach().argmax(1) == target).sum())
            seen += len(target)
            batches.add(step, {"loss": loss_sum / seen, "accuracy": correct / seen})
        history["loss"].append(loss_sum / seen)
        history["accuracy"].append(correct / seen)
        val_loss, val_accuracy = evaluate(model, loss_fn, *validation_data)
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_accuracy)
        timer.on_epoch_end(epoch)
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: {timer.seconds[-1]:.1f} s - loss "
                  f"{history['loss'][-1]:.4f} - accuracy {history['accuracy'][-1]:.4f} - "
                  f"val_loss {val_loss:.4f} - val_accuracy {val_accuracy:.4f}", flush=True)
    return history, timer, batches


def cross_entropy(logits, target, reduction="mean"):
    """Cross-entropy of the softmax of ``logits`` (what minidl's fused softmax +
    categorical cross-entropy computes)."""
    return F.cross_entropy(logits, target, reduction=reduction)
