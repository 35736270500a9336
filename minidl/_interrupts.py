"""Holding back Ctrl-C while a state change is half done (an optimizer step, a training
step), so that an interrupted change is whole, never half applied."""
import _signal
import signal
import threading

_depth = 0  # deferring blocks open in the main thread (only the outermost installs)


class interrupts_deferred:
    """Hold back Ctrl-C (SIGINT) until the block ends, then deliver it to the handler it
    would have reached: an optimizer step interrupted by a signal is whole, never half
    applied. Outside the main thread (where Python runs signal handlers) it does nothing.

    A class rather than a generator, and ``_signal`` rather than ``signal`` (which wraps
    every handler in an enum lookup): it runs around every training step.
    """

    __slots__ = ("_installed", "_previous", "_received")

    def __enter__(self):
        global _depth
        self._installed = threading.current_thread() is threading.main_thread() and \
            not _depth  # another thread, or inside a deferring block already (it delivers)
        if self._installed:
            self._received = received = []
            self._previous = _signal.signal(
                _signal.SIGINT, lambda signum, frame: received.append(frame))
            _depth += 1
        return self

    def __exit__(self, *exc_info):
        global _depth
        if not self._installed:
            return False
        _depth -= 1
        previous = self._previous
        _signal.signal(_signal.SIGINT, previous)
        for frame in self._received:  # each Ctrl-C, in order (a second one may raise)
            if callable(previous):
                previous(signal.SIGINT, frame)
            elif previous == signal.SIG_DFL:  # the default action, now that it is safe
                signal.raise_signal(signal.SIGINT)
            elif previous is None:  # a handler installed outside Python: interrupt
                raise KeyboardInterrupt
        return False
