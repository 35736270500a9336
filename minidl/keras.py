"""``tf.keras``'s path to minidl: a TensorFlow program whose ``import tensorflow as tf``
becomes ``import minidl as tf`` keeps ``tf.keras.layers.Dense``, ``tf.keras.Model``,
``tf.keras.optimizers.Adam``..., and ``from tensorflow.keras import layers`` becomes
``from minidl.keras import layers`` (``from minidl.keras.layers import Dense`` too).
Every name here is minidl's own."""
import sys

from minidl import (activations, backend, callbacks, constraints, datasets,
                    initializers, layers, losses, metrics, models, optimizers,
                    preprocessing, regularizers, utils)
from minidl.autodiff import GradientTape
from minidl.layers import Input
from minidl.models import Model, Sequential

__all__ = ["GradientTape", "Input", "Model", "Sequential", "activations", "backend",
           "callbacks", "constraints", "datasets", "initializers", "layers", "losses",
           "metrics", "models", "optimizers", "preprocessing", "regularizers", "utils"]

# ``from minidl.keras.layers import Dense``: the submodules under this path too
for _name in ("activations", "backend", "callbacks", "constraints", "datasets",
              "initializers", "layers", "losses", "metrics", "models", "optimizers",
              "preprocessing", "regularizers", "utils"):
    sys.modules[f"{__name__}.{_name}"] = globals()[_name]
