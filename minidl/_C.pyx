# cython: language_level=3
"""minidl._C -- thin Cython bindings to minidl's C core (``csrc/``).

Each wrapper checks the structure of its arrays (ranks, shapes, C-contiguity through
typed memoryviews), releases the GIL, calls the C kernel and turns its status code
into an exception: ``ValueError`` for shapes and arguments, ``MemoryError`` when an
allocation fails. Outputs are allocated by the caller (``minidl.ops``) and passed in.
Every kernel accepts float32 or float64 arrays, all of one dtype.
"""
import operator
import numpy as np

from libc.stdint cimport int64_t, uint8_t, uintptr_t

from minidl._cminidl cimport *

include "_C_common.pxi"
include "_C_program.pxi"
include "_C_gemm.pxi"
include "_C_conv2d.pxi"
include "_C_pool2d.pxi"
include "_C_batchnorm.pxi"
include "_C_activations.pxi"
include "_C_recurrent.pxi"
include "_C_loss.pxi"
include "_C_optim.pxi"
include "_C_tensor_ops.pxi"
include "_C_image.pxi"
include "_C_memory.pxi"


def _embed_fused_signatures():
    """Cython embeds the fused-type dispatcher's signature ``(signatures, args, ...)`` in
    the docstring of every fused function; replace it with the real signature."""
    import inspect
    for name, obj in list(globals().items()):
        doc = getattr(obj, "__doc__", None)
        if callable(obj) and doc and doc.startswith(name + "(signatures, args, kwargs"):
            body = doc.split("\n", 1)[1] if "\n" in doc else ""
            obj.__doc__ = f"{name}{inspect.signature(obj)}\n{body}"


_embed_fused_signatures()
