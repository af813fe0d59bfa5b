"""Stand-ins for what pyflow does not provide locally: a name under ``js`` or ``pyodide`` it has
no equivalent for, a binding it does not emulate (``env.AI``). Importing or passing one around
works, so the rest of the code still runs; touching it — an attribute, a call, ``await`` —
raises ``NotAvailableLocally`` with one line that says what it is and what to do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NoReturn


class NotAvailableLocally(Exception):
    """User code touched something pyflow does not provide or emulate locally."""


class Missing:
    """A name pyflow cannot give user code; every use raises ``NotAvailableLocally``."""

    __slots__ = ("_label", "_message")

    def __init__(self, label: str, message: str) -> None:
        self._label = label
        self._message = message

    def _fail(self) -> NoReturn:
        raise NotAvailableLocally(self._message)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # protocols (copy, pickle, inspect) look these up
        self._fail()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._fail()

    def __getitem__(self, key: Any) -> Any:
        self._fail()

    def __iter__(self) -> Iterator[Any]:
        self._fail()

    def __await__(self) -> Any:
        self._fail()

    def __repr__(self) -> str:
        return f"<{self._label}: not available locally>"


def module_getattr(module: str, provided: str, hint: str) -> Any:
    """A module ``__getattr__`` that answers every name the module lacks with a ``Missing``."""

    def __getattr__(name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        return Missing(f"{module}.{name}", f"{module}.{name} is not provided by pyflow (its "
                                           f"{module} module has {provided}). {hint}")

    return __getattr__
