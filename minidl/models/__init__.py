"""Models: ``Sequential``, ``Model`` (functional and subclassed) and ``load_model``."""
from minidl.models.functional import Functional, Model
from minidl.models.nested import NestedModel
from minidl.models.sequential import Sequential
from minidl.saving import clone_model, load_model, model_from_json

__all__ = ["Functional", "Model", "NestedModel", "Sequential", "clone_model", "load_model",
           "model_from_json"]
