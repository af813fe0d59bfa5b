"""The local API's answers: the success and error envelopes, their numeric codes (the
reference's, which wrangler reads), and pyflow's stable error codes.

Every error object carries ``code`` and ``message`` as wrangler 4.164 answers them, and
``pyflow_code``: a stable dotted code (``instance.not_found``, ``instance.cannot_terminate``,
``pyflow.invalid_input``...) that pyflow's own client maps back to an exception, so that no
caller has to read a message's text to know what went wrong.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.responses import JSONResponse

from pyflow_cli.engine.errors import (
    ConflictError,
    InvalidInputError,
    PyflowError,
    TooManyRequestsError,
    WorkflowError,
    error_code,
)

NOT_FOUND = 10501
BAD_DATE_RANGE = 10502
FAILED = 10001
UNHANDLED = 10000
TOO_MANY_REQUESTS = 10429  # pyflow's code: the platform's for a 429 is not documented
_CONFLICT_CODES = frozenset({"instance.already_exists", "instance.cannot_terminate",
                             "instance.cannot_restart"})
_BY_STATUS = {400: "pyflow.invalid_input", 403: "pyflow.forbidden", 404: "pyflow.not_found",
              405: "pyflow.method_not_allowed", 409: "pyflow.conflict", 413: "pyflow.too_large",
              415: "pyflow.invalid_input", 429: "pyflow.too_many_requests"}


class ApiError(Exception):
    """Answer with the error envelope: HTTP ``status``, error ``code`` and ``message``, and
    ``reason``, pyflow's stable code (by default, the one for the status); ``headers`` go with
    it (a 429's ``Retry-After``)."""

    def __init__(self, status: int, code: int, message: str, reason: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.reason = reason or stable_code(status)
        self.headers = headers or {}


class MethodNotAllowed(ApiError):
    """A 405: the route exists, but does not take this method."""

    def __init__(self, method: str, path: str, allowed: tuple[str, ...]) -> None:
        super().__init__(405, UNHANDLED, f"Method {method} is not allowed on {path}; it accepts "
                                         f"{', '.join(allowed)}.")
        self.allowed = allowed


def stable_code(status: int) -> str:
    """pyflow's code for an error known only by its HTTP status."""
    return _BY_STATUS.get(status, "pyflow.internal")


def success(result: Any, result_info: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return JSONResponse(body)


def failure(status: int, errors: list[dict[str, Any]]) -> JSONResponse:
    """The error envelope; an error without a ``pyflow_code`` gets the status's."""
    shown = [{**error, "pyflow_code": error.get("pyflow_code") or stable_code(status)}
             for error in errors]
    return JSONResponse({"success": False, "errors": shown, "messages": [], "result": None},
                        status_code=status)


def error_message(exc: BaseException) -> str:
    """An error as the reference's API reports it: ``WorkflowError: (code) message`` for engine
    errors, pyflow's own message for usage errors, ``<Class>: <message>`` otherwise."""
    if isinstance(exc, WorkflowError):
        return f"WorkflowError: {exc.args[0] if exc.args else ''}"
    if isinstance(exc, PyflowError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def client_mistake(exc: Exception) -> ApiError | None:
    """The 4xx for an error that is the caller's doing (a bad value, a state that does not allow
    the action), with the message the reference gives; None for anything else."""
    if isinstance(exc, TooManyRequestsError):  # a platform limit: the platform's 429
        retry = exc.retry_after_s
        return ApiError(429, TOO_MANY_REQUESTS, error_message(exc), error_code(exc),
                        {"Retry-After": str(math.ceil(retry))} if retry is not None else None)
    if isinstance(exc, WorkflowError) and (exc.error_code in _CONFLICT_CODES):
        return ApiError(409, FAILED, error_message(exc), error_code(exc))
    if isinstance(exc, InvalidInputError):  # an invalid id too: "WorkflowError: ... invalid id"
        return ApiError(400, FAILED, error_message(exc), error_code(exc))
    if isinstance(exc, ConflictError):
        return ApiError(409, FAILED, error_message(exc), error_code(exc))
    return None


def server_error(exc: Exception) -> ApiError:
    """A 500 for an error the caller could not have avoided, with its stable code."""
    return ApiError(500, FAILED, error_message(exc), error_code(exc))


def workflow_not_found(workflow: str) -> ApiError:
    return ApiError(404, NOT_FOUND, f"Workflow '{workflow}' not found.", "workflow.not_found")


def instance_not_found(instance_id: str) -> ApiError:
    return ApiError(404, NOT_FOUND, f"Workflow instance '{instance_id}' not found.",
                    "instance.not_found")
