"""Backend-neutral functional ops: the one front end between the layers and the kernels.

Names and signatures follow ``keras.ops`` where Keras has the op. Every forward op has a
documented backward companion (``*_backward``) that returns the gradients of a scalar
loss with respect to the op's inputs, given the gradient ``dy`` of its output.

Each op checks its arguments once, picks the backend of its arrays
(:func:`minidl.backend.backend_of`: the GPU when one of them is a
:class:`~minidl.cuda.DeviceArray`, else the CPU) and calls that backend's kernel of the
same name -- a kernel is two hops from a layer. The same code therefore runs on both
devices; the subjects live in ``minidl.ops.math``, ``nn``, ``optim`` and ``image``.

Dtypes: on the CPU, when the primary input is float64 the op runs in float64; every
other input (ints, bools, float16, float32, ...) is computed in float32. Secondary
inputs are cast to the primary input's dtype. The GPU computes in float32. Complex,
object and non-numeric arrays raise ``TypeError``. Arrays may be non-contiguous or
read-only: they are copied when needed, never misread.
"""
from minidl.backend import to_numpy as convert_to_numpy
from minidl.ops.image import affine_warp, flip_left_right, resize
from minidl.ops.math import (add, axpy, bias_add, bias_add_backward, clip, matmul,
                             matmul_backward, multiply, scale, sum, summary_statistics,
                             transpose)
from minidl.ops.nn import (activation, activation_backward, average_pool,
                           average_pool_backward, batch_norm_train, batch_norm_train_backward,
                           batch_normalization, batch_normalization_backward,
                           categorical_crossentropy, categorical_crossentropy_backward, conv,
                           conv_backward, conv_transpose, conv_transpose_backward,
                           depthwise_conv, depthwise_conv_backward, elu, embedding,
                           embedding_backward,
                           elu_backward, gelu, gelu_backward, leaky_relu,
                           leaky_relu_backward, max_pool,
                           max_pool_backward, max_pool_with_argmax, moments, relu,
                           relu_backward, sigmoid, sigmoid_backward, silu, silu_backward,
                           softmax,
                           softmax_backward, softmax_cross_entropy,
                           softmax_cross_entropy_backward, sparse_categorical_crossentropy,
                           sparse_categorical_crossentropy_backward,
                           sparse_softmax_cross_entropy, sparse_softmax_cross_entropy_backward,
                           tanh, tanh_backward)
from minidl.ops.recurrent import gru_cell, gru_cell_backward, lstm_cell, lstm_cell_backward
from minidl.ops.optim import (adadelta_update, adagrad_update, adam_update, adam_update_many,
                              adamax_update, nadam_update, rmsprop_update,
                              rmsprop_update_many, sgd_update, sgd_update_many)

__all__ = [
    "activation", "activation_backward", "adadelta_update", "adagrad_update", "adam_update",
    "adam_update_many", "adamax_update",
    "add", "affine_warp", "average_pool", "average_pool_backward", "axpy",
    "batch_norm_train", "batch_norm_train_backward", "batch_normalization",
    "batch_normalization_backward", "bias_add", "bias_add_backward",
    "categorical_crossentropy", "categorical_crossentropy_backward", "clip", "conv",
    "conv_backward", "conv_transpose", "conv_transpose_backward", "convert_to_numpy",
    "depthwise_conv", "depthwise_conv_backward", "elu", "elu_backward", "embedding",
    "embedding_backward", "leaky_relu",
    "leaky_relu_backward", "lstm_cell", "lstm_cell_backward",
    "flip_left_right", "gelu", "gelu_backward", "gru_cell", "gru_cell_backward", "matmul", "matmul_backward", "max_pool", "max_pool_backward",
    "max_pool_with_argmax", "moments", "multiply", "nadam_update", "relu", "relu_backward", "resize",
    "rmsprop_update", "rmsprop_update_many", "scale", "sgd_update", "sgd_update_many",
    "sigmoid", "sigmoid_backward", "silu", "silu_backward", "softmax",
    "softmax_backward", "softmax_cross_entropy", "softmax_cross_entropy_backward",
    "sparse_categorical_crossentropy", "sparse_categorical_crossentropy_backward",
    "sparse_softmax_cross_entropy", "sparse_softmax_cross_entropy_backward", "sum",
    "summary_statistics", "tanh", "tanh_backward", "transpose",
]
