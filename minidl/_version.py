"""The version of minidl (read by the build and by ``minidl.__version__``)."""

__version__ = "0.1.0"
