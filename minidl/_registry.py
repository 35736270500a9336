"""The get / serialize / deserialize logic shared by minidl's registries of classes.

``initializers``, ``losses``, ``metrics``, ``optimizers`` and ``optimizers.schedules`` each
keep their own table of names, their own error messages and their own ``get`` (the
identifiers each accepts differ, as in Keras); what those functions have in common lives
here once.
"""


def find(table, name, fold_case=True):
    """The class that ``name`` names in ``table``, or None.

    Args:
        table: dict from names to classes.
        name: the name; anything that is not a str finds nothing.
        fold_case: look a name that is not found as given up again in lower case.
    """
    if not isinstance(name, str):
        return None
    cls = table.get(name)
    if cls is None and fold_case:
        cls = table.get(name.lower())
    return cls


def serialize(obj, base, module, argument, expected):
    """``{"module", "class_name", "config"}`` of a registered object.

    Args:
        obj: the object (TypeError unless it is an instance of ``base``).
        base: the registry's base class.
        module: the registry's module name, e.g. ``"minidl.losses"``.
        argument: the name of the public ``serialize``'s argument, for the message.
        expected: what that argument must be, for the message (e.g. ``"a Loss"``).
    """
    if not isinstance(obj, base):
        raise TypeError(f"{module.rpartition('.')[2]}.serialize: argument '{argument}' must "
                        f"be {expected}. Received: {obj!r}")
    return {"module": module, "class_name": type(obj).__name__, "config": obj.get_config()}


def from_config(cls, config):
    """``cls`` rebuilt from the ``"config"`` entry of a ``serialize`` dict (no entry, or
    None: the defaults)."""
    return cls.from_config(dict(config.get("config") or {}))


def deserialize(config, lookup, where):
    """The object of a ``serialize`` dict whose ``class_name`` ``lookup`` resolves (lookup
    raises for unknown names).

    Args:
        config: the dict (ValueError unless it is a dict with ``class_name``).
        lookup: ``lookup(class_name) -> class``.
        where: the registry's short module name, e.g. ``"losses"``, for the message.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"{where}.deserialize: argument 'config' must be a dict with "
                         f"'class_name' and 'config'. Received: {config!r}")
    return from_config(lookup(config["class_name"]), config)


def get_or_none(identifier, base, lookup, deserialize_fn, kind):
    """A ``get`` for registries that take None, names, dicts, classes and instances only:
    None for None, else :func:`resolve`'s object, else ValueError naming the ``kind``."""
    if identifier is None:
        return None
    resolved = resolve(identifier, base, lookup, deserialize_fn)
    if resolved is None:
        raise ValueError(f"Could not interpret {kind} identifier: {identifier!r}")
    return resolved


def resolve(identifier, base, lookup, deserialize_fn):
    """The identifiers that every ``get`` resolves alike, or None for any other.

    An instance of ``base`` is returned as is, a name builds ``lookup(name)()``, a dict is
    passed to ``deserialize_fn`` and a subclass of ``base`` is instantiated with its
    defaults. The caller's ``get`` handles the rest (None, plain callables, its error).
    """
    if isinstance(identifier, base):
        return identifier
    if isinstance(identifier, str):
        return lookup(identifier)()
    if isinstance(identifier, dict):
        return deserialize_fn(identifier)
    if isinstance(identifier, type) and issubclass(identifier, base):
        return identifier()
    return None
