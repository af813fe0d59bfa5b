"""The errors KV, R2 and D1 raise into user code, worded as Cloudflare's runtime words them.

On Cloudflare a failing binding call rejects with a JavaScript ``Error`` whose message carries the
service's words (``KV PUT failed: 414 UTF-8 encoded length of 513 exceeds key length limit of
512.``, ``put: The specified object name is not valid. (10020)``, ``D1_ERROR: no such table: x:
SQLITE_ERROR``); Python code sees it as an exception and usually matches on that text. Here each
is a ``BindingError`` with the same message as ``str(error)``, ``error.message`` and the JS
``error.name``. What the runtime raises as a JS ``TypeError`` (a bad argument) is a Python
``TypeError``. Neither is a ``PyflowError``: they belong to the user's code, which catches them,
and a step that lets one escape is retried like any failed step.
"""

from __future__ import annotations


class BindingError(Exception):
    """A storage binding refused or failed an operation."""

    name = "Error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KVError(BindingError):
    """A KV operation failed: ``KV <OP> failed: <status> <reason>``."""

    def __init__(self, operation: str, status: int, reason: str) -> None:
        super().__init__(f"KV {operation} failed: {status} {reason}")
        self.status = status


class R2Error(BindingError):
    """An R2 operation failed: ``<method>: <reason> (<code>)``, ``code`` being R2's v4 error code."""

    def __init__(self, method: str, reason: str, code: int) -> None:
        super().__init__(f"{method}: {reason} ({code})")
        self.code = code


class D1Error(BindingError):
    """A D1 query failed: ``D1_ERROR: <SQLite's message>: <SQLite result code>``, or one of D1's
    other kinds (``D1_EXEC_ERROR``, ``D1_TYPE_ERROR``, ``D1_COLUMN_NOTFOUND``)."""

    def __init__(self, message: str, kind: str = "D1_ERROR") -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.cause = message
