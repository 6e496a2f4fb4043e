"""Attribute names kept where callers know them, forwarding to the object that now owns the
thing: the main window answers ``window.open_path`` or ``window.pacs_cache`` for its session, so
the app, the benchmarks and the tests need not know how the window is put together."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class Forwarded(Generic[T]):
    """A class attribute that reads ``path``, dotted attribute names from the instance
    (``"session.pacs.cache"``); ``writable`` ones assign there too (a hook tests replace)."""

    def __init__(self, path: str, *, writable: bool = False) -> None:
        *self._owners, self._name = path.split(".")
        self._writable = writable

    @overload
    def __get__(self, instance: None, owner: type) -> Forwarded[T]: ...
    @overload
    def __get__(self, instance: object, owner: type) -> T: ...
    def __get__(self, instance: object | None, owner: type) -> Forwarded[T] | T:
        if instance is None:
            return self
        value: T = getattr(self._owner_of(instance), self._name)
        return value

    def __set__(self, instance: object, value: T) -> None:
        if not self._writable:
            raise AttributeError(f"{self._name} is read-only here")
        setattr(self._owner_of(instance), self._name, value)

    def _owner_of(self, instance: object) -> Any:
        owner: Any = instance
        for name in self._owners:
            owner = getattr(owner, name)
        return owner
