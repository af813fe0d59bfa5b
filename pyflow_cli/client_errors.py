"""The exceptions a pyflow server's error answers stand for, as ``DevClient`` raises them: the
ones the service raises (``InstanceNotFoundError``, ``DuplicateInstanceError``, the 429's
``QueueFullError``...), chosen by the error's stable code (``pyflow_code``), never by its text;
by the HTTP status when it has none (a server that is not pyflow's)."""

from __future__ import annotations

from typing import Any

from pyflow_cli.engine.errors import (
    TOO_MANY_CODES,
    ConflictError,
    DuplicateInstanceError,
    InstanceNotFoundError,
    InvalidInputError,
    InvalidInstanceIdError,
    NeedsCodeError,
    NotFoundError,
    PyflowError,
    WorkflowError,
    too_many_requests,
)


class DevServerUnavailable(PyflowError):
    """The dev session's server could not be reached."""

    code = "pyflow.dev_unavailable"


class Unauthorized(PyflowError):
    """The server wants an API token this client did not send, or refused the one it sent."""

    code = "pyflow.unauthorized"


def answer_error(status: int, errors: list[dict[str, Any]], *, base_url: str, sends_token: bool,
                 workflow: str | None, instance_id: str | None,
                 retry_after: str | None = None) -> Exception:
    """The exception for an error answer with HTTP ``status`` and envelope ``errors``."""
    messages = [str(error.get("message", "")) for error in errors]
    message = messages[0] if messages else f"HTTP {status}"
    code = str(errors[0].get("pyflow_code") or "") if errors else ""
    runtime = message.removeprefix("WorkflowError: ").removeprefix(f"({code}) ")
    if code == "instance.not_found" and workflow is not None:
        return InstanceNotFoundError(instance_id or "", workflow)
    if code == "instance.invalid_id":
        return InvalidInstanceIdError(instance_id)
    if code == "instance.already_exists" and instance_id is not None:
        return DuplicateInstanceError(instance_id)
    if code in TOO_MANY_CODES or (not code and status == 429):
        seconds = float(retry_after) if retry_after and retry_after.isdigit() else None
        return too_many_requests(code, runtime, seconds)
    if code == "pyflow.needs_code":
        return NeedsCodeError(runtime)
    if code == "pyflow.unauthorized" or (not code and status == 401):
        return Unauthorized(
            f"The pyflow server at {base_url} refused the API token in PYFLOW_API_TOKEN "
            "(HTTP 401). Set it to the token the server was started with."
            if sends_token else
            f"The pyflow server at {base_url} needs its API token (HTTP 401). Set "
            "PYFLOW_API_TOKEN to the token it was started with.")
    if code.startswith("instance."):
        return WorkflowError(runtime, code)
    if code == "workflow.error":
        return WorkflowError(runtime)
    if code == "pyflow.invalid_input" or (not code and status == 400):
        return InvalidInputError("; ".join(messages) or message)
    if code in ("pyflow.conflict", "pyflow.unserved_script") or (not code and status == 409):
        return ConflictError(message)
    if code == "pyflow.not_found" or (not code and status == 404):
        return NotFoundError(message)
    return PyflowError(message)
