"""Keras-style layers: Dense, Conv2D and Conv2DTranspose, DepthwiseConv2D and
SeparableConv2D, Conv1D and the 1-D poolings, Embedding, BatchNormalization,
LayerNormalization and GroupNormalization, pooling (global too), Flatten, Reshape,
Permute, padding, cropping and upsampling, Activation, ReLU, LeakyReLU, ELU, Softmax,
Dropout and SpatialDropout2D, Rescaling and Resizing, the random augmentation layers
(RandomFlip, RandomRotation, RandomZoom, RandomTranslation), the merge layers (Add,
Concatenate, ...) and Input."""
import inspect

from minidl.layers.augmentation import RandomFlip, RandomRotation, RandomTranslation, RandomZoom
from minidl.layers.base import Layer
from minidl.layers.convolutional import (Conv2D, Conv2DTranspose, DepthwiseConv2D,
                                         SeparableConv2D)
from minidl.layers.core import (ELU, Activation, Dense, Dropout, Flatten, Input, InputLayer,
                                LeakyReLU, ReLU, Softmax, SpatialDropout1D, SpatialDropout2D)
from minidl.layers.embedding import Embedding
from minidl.layers.lambda_layer import Lambda
from minidl.layers.masking import Masking
from minidl.layers.merging import (Add, Average, Concatenate, Maximum, Minimum, Multiply,
                                   Subtract, add, average, concatenate, maximum, minimum,
                                   multiply, subtract)
from minidl.layers.normalization import (BatchNormalization, GroupNormalization,
                                         LayerNormalization)
from minidl.layers.pooling import (AveragePooling2D, GlobalAveragePooling2D, GlobalAvgPool2D,
                                   GlobalMaxPool2D, GlobalMaxPooling2D, MaxPooling2D)
from minidl.layers.noise import GaussianDropout, GaussianNoise
from minidl.layers.normalization_adapt import Normalization
from minidl.layers.prelu import PReLU
from minidl.layers.preprocessing import Rescaling, Resizing
from minidl.layers.temporal import (AveragePooling1D, AvgPool1D, Conv1D, Convolution1D,
                                    Cropping1D, GlobalAveragePooling1D, GlobalAvgPool1D,
                                    GlobalMaxPool1D, GlobalMaxPooling1D, MaxPool1D,
                                    MaxPooling1D, UpSampling1D, ZeroPadding1D)
from minidl.layers.recurrent import GRU, LSTM, Bidirectional, SimpleRNN
from minidl.layers.reshaping import (Cropping2D, Identity, Permute, RepeatVector, Reshape,
                                     UpSampling2D, ZeroPadding2D)
from minidl.layers.wrappers import TimeDistributed

# Keras aliases
Convolution2D = Conv2D
Deconvolution2D = Conv2DTranspose
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D

__all__ = ["Activation", "Add", "add", "Average", "average", "AveragePooling1D",
           "AveragePooling2D", "AvgPool1D", "AvgPool2D", "BatchNormalization",
           "Bidirectional", "Concatenate", "concatenate", "Conv1D", "Conv2D",
           "Conv2DTranspose", "Convolution1D", "Convolution2D", "Cropping1D", "Cropping2D",
           "Deconvolution2D", "Dense", "DepthwiseConv2D", "deserialize", "Dropout", "ELU",
           "Embedding", "Flatten", "GaussianDropout", "GaussianNoise", "get",
           "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAvgPool1D",
           "GlobalAvgPool2D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPooling1D",
           "GlobalMaxPooling2D", "GroupNormalization", "GRU", "Identity", "Input",
           "InputLayer", "Lambda", "Layer", "LayerNormalization", "LeakyReLU", "LSTM",
           "Masking", "Maximum", "maximum", "MaxPool1D", "MaxPool2D", "MaxPooling1D", "MaxPooling2D",
           "Minimum", "minimum", "Multiply", "multiply", "Normalization", "Permute", "PReLU",
           "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "ReLU",
           "RepeatVector", "Rescaling", "Reshape", "Resizing", "SeparableConv2D",
           "serialize", "SimpleRNN", "Softmax", "SpatialDropout1D", "SpatialDropout2D",
           "Subtract", "subtract", "TimeDistributed", "UpSampling1D", "UpSampling2D",
           "ZeroPadding1D", "ZeroPadding2D"]

_REGISTRY = {name: globals()[name] for name in __all__
             if isinstance(globals().get(name), type)}


def serialize(layer):
    """``{"class_name": ..., "config": ...}`` of a layer.

    Args:
        layer (Layer): the layer to serialize.

    Example:
        >>> from minidl import layers
        >>> layers.serialize(layers.Dropout(0.3))["config"]["rate"]
        0.3
    """
    return {"class_name": getattr(layer, "_keras_class_name", type(layer).__name__),
            "config": layer.get_config()}


def register(class_name, cls):
    """Let :func:`deserialize` build ``cls`` from a config of ``class_name`` (the models
    package registers the layer that stands for a nested model).

    Args:
        class_name (str): the ``class_name`` of the configs ``cls`` builds.
        cls (type): a layer class with ``from_config``.
    """
    _REGISTRY[class_name] = cls


def deserialize(config, custom_objects=None):
    """A layer from :func:`serialize`'s output (custom classes via ``custom_objects``).

    Args:
        config (dict): ``{"class_name": ..., "config": ...}``, as :func:`serialize`
            writes it (Keras-only arguments at their "not used" values are dropped).
        custom_objects (dict or None): ``{class name: layer class}`` for classes
            minidl does not know.

    Example:
        >>> from minidl import layers
        >>> layers.deserialize({"class_name": "Dropout", "config": {"rate": 0.3}}).rate
        0.3
    """
    registry = dict(_REGISTRY, **(custom_objects or {}))
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"layers.deserialize: expected a dict with 'class_name' and "
                         f"'config'. Received: {config!r}")
    cls = registry.get(config["class_name"])
    if cls is None:
        raise ValueError(f"layers.deserialize: unknown layer class "
                         f"{config['class_name']!r}; pass it in custom_objects")
    return cls.from_config(_without_keras_defaults(cls, dict(config.get("config", {}))))


# Keras arguments minidl's layers do not take, at the values that mean "not used"; a
# config written by Keras carries them (a regularizer of None, sparse=False, ...).
_KERAS_ONLY_DEFAULTS = {
    "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
    "kernel_constraint": None, "bias_constraint": None, "beta_regularizer": None,
    "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None,
    "sparse": False, "ragged": False, "groups": 1, "renorm": False, "renorm_clipping": None,
    "renorm_momentum": 0.99, "fused": None, "virtual_batch_size": None, "adjustment": None,
    "synchronized": False, "data_format": "channels_last", "dilation_rate": [1, 1],
}


def _without_keras_defaults(cls, config):
    """``config`` without the Keras-only arguments ``cls`` does not take when they hold
    their "not used" value; any other value is kept, so that the constructor names it."""
    accepted = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            accepted |= set(inspect.signature(klass.__init__).parameters)
    for key, unused in _KERAS_ONLY_DEFAULTS.items():
        value = config.get(key, object())
        if key not in accepted and (value == unused or (isinstance(unused, list) and
                                                        value == tuple(unused))):
            del config[key]
    return config


def get(identifier):
    """A layer instance from a layer, or a serialized dict.

    Args:
        identifier (Layer or dict): a layer (returned as is) or a :func:`serialize`
            dict (given to :func:`deserialize`).

    Example:
        >>> from minidl import layers
        >>> type(layers.get({"class_name": "Dense", "config": {"units": 3}})).__name__
        'Dense'
    """
    if isinstance(identifier, Layer):
        return identifier
    return deserialize(identifier)
