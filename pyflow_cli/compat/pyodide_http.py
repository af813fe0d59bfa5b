"""``pyodide.http`` for user code: ``pyfetch``, Pyodide's ``fetch``, over the same real HTTP as
``workers.fetch`` (``compat/fetch.py``)."""

from __future__ import annotations

from typing import Any

from pyflow_cli.compat.fetch import FetchResponse, HttpStatusError, fetch
from pyflow_cli.compat.missing import module_getattr

__all__ = ["FetchResponse", "HttpStatusError", "pyfetch"]


async def pyfetch(url: str, **kwargs: Any) -> FetchResponse:
    """``await pyfetch(url, method=..., headers=..., body=...)``; ``await response.json()``
    gives Python values."""
    return await fetch(url, **kwargs)


__getattr__ = module_getattr("pyodide.http", ", ".join(__all__),
                             "Use pyfetch, or it only in code that runs on Cloudflare.")
