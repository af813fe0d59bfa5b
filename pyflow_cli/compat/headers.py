"""``Headers`` as Cloudflare Python Workers show them (``Request.headers``, ``Response.headers``):
names case-insensitive and checked as the runtime checks them (a bad name or value is a
``TypeError``)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TypeAlias

__all__ = ["Headers", "HeadersInit"]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_IN_VALUE = re.compile(r"[\r\n\x00]")
_HTTP_WHITESPACE = " \t\r\n"


class Headers:
    """Case-insensitive, multi-valued HTTP headers that read like the SDK's ``HTTPMessage``.

    Cloudflare gives Python code an ``http.client.HTTPMessage`` copied from the JS ``Headers``:
    names are lower-case and sorted, repeated names read as one value joined with ", " except
    ``set-cookie``, whose values stay separate, and a missing name reads as ``None`` instead of
    raising. Reads here give the same answers. The JS-style ``set``/``append``/``delete`` exist
    because these headers belong to their message (on Cloudflare each read is a fresh copy), so
    code building a response can edit them.
    """

    def __init__(self, init: HeadersInit | None = None) -> None:
        self._values: dict[str, list[str]] = {}
        if init is None:
            return
        if isinstance(init, Headers | Mapping):
            pairs = list(init.items())
        elif isinstance(init, list):
            pairs = init
        else:
            raise TypeError(
                f"Received unexpected type for headers argument: {type(init).__name__}. "
                "Pass a dict, a list of (name, value) pairs, or Headers."
            )
        for name, value in pairs:
            self.append(name, value)

    def get(self, name: str, failobj: str | None = None) -> str | None:
        """The value of ``name`` (all of its values joined with ", "), or ``failobj`` if absent."""
        lines = self.get_all(name)
        return lines[0] if lines else failobj

    def get_all(self, name: str, failobj: list[str] | None = None) -> list[str] | None:
        """Every value line of ``name``: one joined line, or one per ``set-cookie`` cookie."""
        key = name.lower()
        if key not in self._values:
            return failobj
        return self._lines(key)

    def __getitem__(self, name: str) -> str | None:
        # ``HTTPMessage`` answers None for a missing name rather than raising KeyError.
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def items(self) -> list[tuple[str, str]]:
        """(name, value) lines in the order the runtime iterates them: sorted by name."""
        return [(key, line) for key in sorted(self._values) for line in self._lines(key)]

    def keys(self) -> list[str]:
        """The name of every line, so ``set-cookie`` repeats once per cookie."""
        return [key for key, _ in self.items()]

    def values(self) -> list[str]:
        """The value of every line, in the same order as ``keys()``."""
        return [value for _, value in self.items()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.items())

    def set(self, name: str, value: str) -> None:
        """Replaces every value of ``name`` with ``value``."""
        self._values[_header_key(name)] = [_header_value(name, value)]

    def append(self, name: str, value: str) -> None:
        """Adds a value to ``name``, keeping the ones it already has."""
        self._values.setdefault(_header_key(name), []).append(_header_value(name, value))

    def delete(self, name: str) -> None:
        """Removes ``name`` entirely; removing a name that is absent is not an error."""
        self._values.pop(_header_key(name), None)

    def has(self, name: str) -> bool:
        """Whether ``name`` is present (the JavaScript spelling of ``name in headers``)."""
        return name in self

    @classmethod
    def new(cls, init: HeadersInit | None = None) -> Headers:
        """``js.Headers.new(...)``: how Pyodide code constructs the JavaScript class."""
        return cls(init)

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"

    def _lines(self, key: str) -> list[str]:
        values = self._values[key]
        return list(values) if key == "set-cookie" else [", ".join(values)]


HeadersInit: TypeAlias = Headers | Mapping[str, str] | list[tuple[str, str]]
"""What a ``headers=`` argument accepts, as in the SDK (which takes a dict or a list of pairs)."""

"""What a ``body`` argument accepts; the JS-only body types (streams, blobs) have no meaning here."""


def _header_key(name: str) -> str:
    if not _TOKEN.fullmatch(name):
        raise TypeError(f"Invalid header name: {name!r}. A name is letters, digits and !#$%&'*+-.^_`|~.")
    return name.lower()


def _header_value(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(
            f"Header {name!r} has value {value!r} of type {type(value).__name__}; header values must be str."
        )
    # Like JS Headers: surrounding whitespace is dropped, and CR/LF/NUL would allow injection.
    stripped = value.strip(_HTTP_WHITESPACE)
    if _FORBIDDEN_IN_VALUE.search(stripped):
        raise TypeError(f"Invalid header value for {name!r}: {value!r} contains CR, LF or NUL.")
    return stripped
