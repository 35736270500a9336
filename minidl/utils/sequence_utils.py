"""``pad_sequences``: lists of variable-length sequences to one array
(``keras.utils.pad_sequences``, Keras 2's ``keras.preprocessing.sequence``)."""
import numpy as np

_SIDES = ("pre", "post")


def _side(value, argument):
    if value not in _SIDES:
        raise ValueError(f"pad_sequences: argument '{argument}' must be 'pre' or 'post'. "
                         f"Received: {value!r}")
    return value


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """Pad (or truncate) every sequence to the same length, as Keras does.

    Args:
        sequences (list of array-like): the sequences (lists or arrays of the same
            trailing shape).
        maxlen (int or None): the length of the result (None: the longest sequence's).
        dtype (str or numpy.dtype): the result's dtype (``'int32'``, as Keras's; use
            ``'float32'`` or ``object`` for other values).
        padding (str): ``'pre'`` (pad at the start, default) or ``'post'``.
        truncating (str): ``'pre'`` (drop the start of longer sequences) or ``'post'``.
        value (float or str): the padding value.

    Returns:
        A ``numpy.ndarray`` of shape ``(len(sequences), maxlen, ...)``.

    Example:
        >>> from minidl.utils import pad_sequences
        >>> pad_sequences([[1, 2, 3], [4]], maxlen=2)
        array([[2, 3],
               [0, 4]], dtype=int32)
        >>> pad_sequences([[1], [2, 3]], padding="post")
        array([[1, 0],
               [2, 3]], dtype=int32)
    """
    _side(padding, "padding")
    _side(truncating, "truncating")
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise TypeError(f"pad_sequences: argument 'sequences' must be a list of sequences. "
                        f"Received: {type(sequences).__name__}")
    arrays = []
    for i, sequence in enumerate(sequences):
        if not hasattr(sequence, "__len__") or isinstance(sequence, (str, bytes)):
            raise ValueError(f"pad_sequences: sequence {i} is not a sequence. Received: "
                             f"{type(sequence).__name__}")
        arrays.append(np.asarray(sequence))
    if maxlen is None:
        maxlen = max((len(a) for a in arrays), default=0)
    elif isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
        raise ValueError(f"pad_sequences: argument 'maxlen' must be None or an int >= 0. "
                         f"Received: {maxlen!r}")
    trailing = next((a.shape[1:] for a in arrays if len(a)), ())
    result = np.full((len(arrays), int(maxlen)) + trailing, value, dtype=dtype)
    for i, array in enumerate(arrays):
        if not len(array) or not maxlen:
            continue
        if array.shape[1:] != trailing:
            raise ValueError(f"pad_sequences: sequence {i} has items of shape "
                             f"{array.shape[1:]}, others {trailing}")
        kept = array[-maxlen:] if truncating == "pre" else array[:maxlen]
        if padding == "post":
            result[i, :len(kept)] = kept
        else:
            result[i, -len(kept):] = kept
    return result
