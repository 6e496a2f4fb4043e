"""Evented attributes: a model whose fields tell subscribers when they change (no Qt).

In the spirit of napari's evented ``ViewerModel``: a field declared as ``Evented(default)`` on an
``EventedModel`` subclass has an event, ``model.events.<field>``; assigning a different value
emits the new value to its subscribers, then ``model.events.changed`` emits the set of field
names that changed. ``model.update(...)`` sets several fields first and notifies afterwards, so a
subscriber never sees half of a change (a new image with the previous image's window).

Callbacks run synchronously, in the order they were connected; an exception in one propagates to
whoever assigned the field (in the viewer: a Qt slot, whose exception hook reports it).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar, overload

T = TypeVar("T")

Callback = Callable[[T], object]
# Whether an old and a new value are the same (no notification). ``operator.eq`` for plain
# values; ``operator.is_`` for objects holding arrays, whose ``==`` is elementwise.
Sameness = Callable[[Any, Any], bool]


class Event(Generic[T]):
    """Subscribers of one kind of change; ``emit`` calls each with the new value."""

    def __init__(self) -> None:
        self._callbacks: list[Callback[T]] = []

    def connect(self, callback: Callback[T]) -> Callback[T]:
        """Call ``callback`` on every emission (once, however often it is connected)."""
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callback[T]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, value: T) -> None:
        # A copy: a callback may connect or disconnect others while this emission runs.
        for callback in tuple(self._callbacks):
            callback(value)


class Evented(Generic[T]):
    """A field of an ``EventedModel``: reading gives its value, assigning a different one
    notifies its subscribers. ``same`` decides what counts as different (equality unless
    told otherwise)."""

    def __init__(self, default: T, *, same: Sameness = operator.eq) -> None:
        self.default = default
        self.same = same
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, model: None, owner: type) -> Evented[T]: ...
    @overload
    def __get__(self, model: EventedModel, owner: type) -> T: ...
    def __get__(self, model: EventedModel | None, owner: type) -> Evented[T] | T:
        if model is None:
            return self
        value: T = model._values[self.name]
        return value

    def __set__(self, model: EventedModel, value: T) -> None:
        model.update(**{self.name: value})


class ModelEvents:
    """One ``Event`` per field (``events.<field>``, with the new value) and ``changed`` (with the
    names of every field one assignment or ``update`` changed)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.changed: Event[frozenset[str]] = Event()
        self._fields: dict[str, Event[Any]] = {name: Event() for name in names}

    def __getattr__(self, name: str) -> Event[Any]:
        # Called only for names that are not attributes: the fields' events. Read through
        # __dict__ so that a lookup before __init__ (copying) fails instead of recursing.
        fields: dict[str, Event[Any]] = self.__dict__.get("_fields", {})
        try:
            return fields[name]
        except KeyError:
            raise AttributeError(f"no field {name!r} to subscribe to") from None


class EventedModel:
    """Base of the viewer's state models: subclasses declare ``Evented`` class attributes."""

    _fields: ClassVar[dict[str, Evented[Any]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, Evented[Any]] = {}
        for klass in reversed(cls.__mro__):
            found.update(
                (name, value) for name, value in vars(klass).items() if isinstance(value, Evented)
            )
        cls._fields = found

    def __init__(self, **values: Any) -> None:
        self._values: dict[str, Any] = {name: field.default for name, field in self._fields.items()}
        self.events = ModelEvents(tuple(self._fields))
        if values:
            self.update(**values)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The model's fields, in declaration order (base classes first)."""
        return tuple(cls._fields)

    def values(self) -> dict[str, Any]:
        """Every field's current value, by name."""
        return dict(self._values)

    def update(self, **values: Any) -> frozenset[str]:
        """Set ``values`` (field name -> value), then notify: each changed field's event, in the
        order given, then ``changed`` once. Returns the names that changed."""
        changed: list[str] = []
        for name, value in values.items():
            field = self._fields.get(name)
            if field is None:
                raise AttributeError(f"{type(self).__name__} has no field {name!r}")
            if not field.same(self._values[name], value):
                self._values[name] = value
                changed.append(name)
        for name in changed:
            getattr(self.events, name).emit(self._values[name])
        names = frozenset(changed)
        if names:
            self.events.changed.emit(names)
        return names

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, EventedModel)
        return all(
            field.same(self._values[name], other._values[name])
            for name, field in self._fields.items()
        )

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in self._values.items())
        return f"{type(self).__name__}({shown})"
