"""Loading and initialising the CUDA backend, and why it may be unavailable.

Nothing here touches the GPU at import: the backend (``minidl._cuda``) is imported and
the device initialised on the first call that needs them (``is_available``,
``reason``, or the creation of a ``DeviceArray``). The outcome is cached.
"""
import importlib
import threading

_lock = threading.Lock()
_backend = None      # the initialised backend module, once loaded
_reason = None       # why it is unavailable, once known
_checked = False
_on_ready = []       # callbacks run once a backend is ready (ops dispatch registration)


def _explain_driver_failure(cuda, message):
    """A sentence for a failed cudaGetDeviceCount, from the runtime's message."""
    built = cuda.runtime_version()
    built_text = f"{built // 1000}.{built % 1000 // 10}"
    if "cudaErrorNoDevice" in message:
        return ("no CUDA device is visible (check CUDA_VISIBLE_DEVICES and that the GPU is "
                f"attached); the CUDA runtime says: {message}")
    if "cudaErrorInsufficientDriver" in message:
        driver = cuda.driver_version()
        if driver == 0:
            return ("no NVIDIA driver is installed (libcuda was not found), so no GPU can "
                    f"be used; the CUDA runtime says: {message}")
        return (f"the NVIDIA driver supports CUDA {driver // 1000}.{driver % 1000 // 10} "
                f"but minidl's CUDA backend was built with CUDA {built_text}; update the "
                f"driver or rebuild with an older toolkit ({message})")
    return f"the CUDA runtime could not query the devices: {message}"


def _load():
    """Import and initialise the backend; return (module or None, reason or None)."""
    try:
        _cuda = importlib.import_module("minidl._cuda")
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name == "minidl._cuda":
            return None, ("minidl was built without its CUDA backend: the extension "
                          "minidl._cuda is not installed (nvcc was not found at build time, "
                          "or the build ran with MINIDL_CUDA=0); reinstall with the CUDA "
                          "toolkit on PATH or CUDA_HOME set (MINIDL_CUDA=1 makes it "
                          "required)")
        return None, f"the CUDA backend minidl._cuda failed to load: {exc}"
    try:
        count = _cuda.device_count()
    except RuntimeError:
        return None, _explain_driver_failure(_cuda, _cuda.last_error())
    if count < 1:
        return None, "no CUDA device found (cudaGetDeviceCount returned 0)"
    try:
        _cuda.init(0)
    except RuntimeError as exc:
        return None, f"the CUDA device could not be initialised: {exc}"
    return _cuda, None


def _ensure():
    global _backend, _reason, _checked
    if _checked:
        return
    with _lock:
        if _checked:
            return
        _backend, _reason = _load()
        _checked = True
    if _backend is not None:
        for callback in _on_ready:
            callback()


def available():
    """True when a CUDA device can be used."""
    _ensure()
    return _backend is not None


def reason():
    """Why CUDA is unavailable (None when it is available)."""
    _ensure()
    return _reason


def backend():
    """The initialised backend module; RuntimeError with the reason when there is none."""
    _ensure()
    if _backend is None:
        raise RuntimeError(f"minidl.cuda: CUDA is not available: {_reason}")
    return _backend


def on_ready(callback):
    """Run ``callback()`` once a backend is ready (now, if it already is)."""
    _on_ready.append(callback)
    if _checked and _backend is not None:
        callback()


def install_backend(module, why_not=None):
    """Replace the backend (tests: a NumPy stand-in that has ``minidl._cuda``'s API), or
    with ``module=None`` mark CUDA unavailable with the reason ``why_not``. Returns the
    previous (backend, reason, checked) state for ``restore_backend``."""
    global _backend, _reason, _checked
    previous = (_backend, _reason, _checked)
    with _lock:
        _backend, _reason, _checked = module, (None if module else why_not), True
    if module is not None:
        for callback in _on_ready:
            callback()
    return previous


def restore_backend(state):
    """Undo ``install_backend`` with the state it returned."""
    global _backend, _reason, _checked
    with _lock:
        _backend, _reason, _checked = state


def raise_data_errors():
    """Raise ValueError when a kernel has flagged invalid data since the last check (a
    label or argmax out of range, a negative variance): the device analogue of the CPU
    kernels' up-front checks, which cannot see device memory without waiting for it."""
    cuda = backend()
    flags = cuda.take_data_errors()
    if flags:
        found = [text for bit, text in sorted(cuda.DATA_ERRORS.items()) if flags & bit]
        raise ValueError("minidl.cuda: a kernel found invalid input data: " +
                         "; ".join(found) + " (the results of that call are undefined)")
