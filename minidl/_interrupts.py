"""Holding back Ctrl-C while a state change is half done (an optimizer step, a training
step), so that an interrupted change is whole, never half applied."""
import contextlib
import signal
import threading

_depth = 0  # deferring blocks open in the main thread (only the outermost installs)


@contextlib.contextmanager
def interrupts_deferred():
    """Hold back Ctrl-C (SIGINT) until the block ends, then deliver it to the handler it
    would have reached: an optimizer step interrupted by a signal is whole, never half
    applied. Outside the main thread (where Python runs signal handlers) it does nothing.
    """
    global _depth
    if threading.current_thread() is not threading.main_thread() or _depth:
        yield  # another thread, or inside a deferring block already (it delivers)
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(frame))
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        signal.signal(signal.SIGINT, previous)
        for frame in received:  # each Ctrl-C, in order (a second one may raise)
            if callable(previous):
                previous(signal.SIGINT, frame)
            elif previous == signal.SIG_DFL:  # the default action, now that it is safe
                signal.raise_signal(signal.SIGINT)
            elif previous is None:  # a handler installed outside Python: interrupt
                raise KeyboardInterrupt
