"""Per-thread layer attributes: the state a forward pass keeps for its backward pass."""
import threading


class PerThread:
    """A layer attribute with one value per thread: what a forward pass keeps for its
    backward pass (``_cache``, ``_logits``). A model predicting in one thread while it
    trains in another never overwrites what the training step's backward reads.

    Args:
        default (object): the value a thread sees before it sets one (shared, never
            mutated).
    """

    def __init__(self, default=None):
        self.default = default
        self.name = None

    def __set_name__(self, owner, name):
        self.name = name

    @staticmethod
    def _state(layer):
        state = layer.__dict__.get("_per_thread")
        if state is None:  # setdefault: two threads racing here keep the same object
            state = layer.__dict__.setdefault("_per_thread", threading.local())
        return state

    def __get__(self, layer, owner=None):
        if layer is None:
            return self
        return getattr(self._state(layer), self.name, self.default)

    def __set__(self, layer, value):
        setattr(self._state(layer), self.name, value)
