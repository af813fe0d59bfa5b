"""``pyodide.ffi`` for user code: the names Python Workers code imports to talk to JavaScript.

pyflow runs no JavaScript, so what is "a JavaScript value" on Cloudflare is a plain Python value
here: ``to_js`` returns dicts (with attribute access), lists, sets and bytes, which every
binding, ``Response.json`` and ``fetch`` accept as they accept plain values; nothing pyflow
returns is a ``JsProxy``. Proxies of Python callables (``create_proxy``,
``create_once_callable``) are thin wrappers that keep Pyodide's lifetime rules: a destroyed
proxy, or a once-callable called twice, raises ``JsException``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pyflow_cli.compat.missing import module_getattr
from pyflow_cli.engine.serde import JsonDict

__all__ = ["JsException", "JsProxy", "create_once_callable", "create_proxy", "destroy_proxies",
           "to_js"]

Converter = Callable[[Any, Callable[[Any], Any], Callable[[Any, Any], None]], Any]


class JsException(Exception):
    """An error JavaScript threw; in pyflow, a failed outbound ``fetch`` or a misused proxy."""

    def __init__(self, message: str = "", name: str = "Error") -> None:
        super().__init__(message)
        self.message = message
        self.js_name = name


class JsProxy:
    """Pyodide's proxy of a JavaScript object. pyflow never hands user code one (the values it
    returns are plain Python); the class exists so that ``isinstance`` checks and annotations
    in Workers code keep working."""

    def to_py(self, *, depth: int = -1, default_converter: Any = None) -> Any:
        return self


def to_js(obj: Any, /, *, depth: int = -1, pyproxies: Any = None, create_pyproxies: bool = True,
          dict_converter: Callable[[Iterable[Any]], Any] | None = None,
          default_converter: Converter | None = None, eager_converter: Any = None) -> Any:
    """The value as JavaScript would hold it, which in pyflow is plain Python: a dict (or what
    ``dict_converter`` makes of its ``[key, value]`` entries, e.g. ``Object.fromEntries``), a
    list for lists and tuples, a set, bytes for any buffer; other objects go through
    ``default_converter(value, convert, cache)`` if given, else stay as they are."""
    cache: dict[int, Any] = {}

    def convert(value: Any, left: int = depth) -> Any:
        if left == 0 or value is None or isinstance(value, bool | int | float | str):
            return value
        if id(value) in cache:
            return cache[id(value)]
        deeper = left - 1
        if isinstance(value, Mapping):
            entries = [[key, convert(item, deeper)] for key, item in value.items()]
            return dict_converter(entries) if dict_converter is not None else JsonDict(entries)
        if isinstance(value, list | tuple):
            return [convert(item, deeper) for item in value]
        if isinstance(value, set | frozenset):
            return {convert(item, deeper) for item in value}
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value)
        if default_converter is not None:
            return default_converter(value, lambda inner: convert(inner, deeper),
                                     lambda key, result: cache.__setitem__(id(key), result))
        return value

    return convert(obj)


class _Proxy:
    """What ``create_proxy`` returns: calls go to the wrapped object until ``destroy()``."""

    def __init__(self, obj: Any, once: bool = False) -> None:
        self._obj = obj
        self._once = once
        self._destroyed = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._destroyed:
            raise JsException("This borrowed proxy was automatically destroyed: a function "
                              "made with create_once_callable can only be called once"
                              if self._once else "Object has already been destroyed")
        if self._once:
            self._destroyed = True
        return self._obj(*args, **kwargs)

    def destroy(self) -> None:
        """Release the proxy; calling it afterwards raises ``JsException``."""
        self._destroyed = True

    def unwrap(self) -> Any:
        """The Python object behind the proxy."""
        return self._obj

    def __repr__(self) -> str:
        return f"<proxy of {self._obj!r}>"


def create_proxy(obj: Any, /, *, capture_this: bool = False, roundtrip: bool = True) -> Any:
    """A proxy of ``obj`` that lives until ``destroy()``, as Pyodide's."""
    return _Proxy(obj)


def create_once_callable(obj: Callable[..., Any], /, *, _may_syncify: bool = False) -> Any:
    """A proxy of ``obj`` that may be called once; a second call raises ``JsException``."""
    return _Proxy(obj, once=True)


def destroy_proxies(proxies: Iterable[Any], /) -> None:
    """``destroy()`` every proxy in ``proxies``."""
    for proxy in proxies:
        destroy = getattr(proxy, "destroy", None)
        if callable(destroy):
            destroy()


__getattr__ = module_getattr(
    "pyodide.ffi", "to_js, JsProxy, JsException, create_proxy, create_once_callable and "
    "destroy_proxies", "Use it only in code that runs on Cloudflare.")
