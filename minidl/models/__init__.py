"""Models: ``Sequential``, ``Model`` (functional and subclassed) and ``load_model``."""
from minidl.models.functional import Functional, Model
from minidl.models.sequential import Sequential
from minidl.saving import load_model

__all__ = ["Functional", "Model", "Sequential", "load_model"]
