"""Models: ``Sequential`` and ``load_model``."""
from minidl.models.sequential import Sequential
from minidl.saving import load_model

__all__ = ["Sequential", "load_model"]
