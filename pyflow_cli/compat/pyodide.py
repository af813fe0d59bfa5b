"""``pyodide`` for user code: the package whose ``ffi`` and ``http`` modules Workers code imports
(``from pyodide.ffi import to_js``); ``pyflow_cli.project.imports`` wires the submodules in."""

from __future__ import annotations

from pyflow_cli.compat import pyodide_ffi as ffi
from pyflow_cli.compat import pyodide_http as http
from pyflow_cli.compat.missing import module_getattr

__all__ = ["ffi", "http"]

__getattr__ = module_getattr("pyodide", "ffi and http", "Use it only in code that runs on "
                                                        "Cloudflare.")
