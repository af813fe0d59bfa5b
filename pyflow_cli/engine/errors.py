"""The error tree.

Two families live here:

* ``PyflowError`` and its subclasses are errors *about using pyflow*: bad input to the service
  (an invalid instance id, an unknown workflow), a broken project config. Each carries a stable
  ``code`` and a message that says what was wrong and what to do; the CLI turns one into a single
  red line and a non-zero exit code.
* The workflow errors (``WorkflowError``, ``WorkflowFatalError``, ``WorkflowTimeoutError``,
  ``NonRetryableError``...) are the reference engine's error classes, raised *into user code* and
  recorded in the event log under their class names (SPEC A7). Their messages are the reference's.
"""

from __future__ import annotations


class PyflowError(Exception):
    """Base class of every error pyflow reports to a user about their input or setup."""

    code: str = "pyflow.error"
    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(PyflowError):
    """A value given to the service or the CLI is malformed (bad id, bad JSON, too large...)."""

    code = "pyflow.invalid_input"


class NotFoundError(PyflowError):
    """A workflow or instance that was asked for does not exist."""

    code = "pyflow.not_found"


class ConflictError(PyflowError):
    """The request cannot be carried out in the current state (e.g. restart from a missing step)."""

    code = "pyflow.conflict"


class UnservedScriptError(ConflictError):
    """A workflow binding names a Worker (``script_name``) that this ``pyflow dev`` does not
    serve, so nothing could run the instance."""

    code = "pyflow.unserved_script"

    def __init__(self, workflow: str, script: str, config_name: str) -> None:
        super().__init__(
            f'Workflow "{workflow}" is defined in Worker "{script}", which this pyflow dev does '
            f'not serve. Serve both: pyflow dev -c {config_name} -c <the config of "{script}">.')
        self.workflow = workflow
        self.script = script


class ConfigError(PyflowError):
    """The project configuration (wrangler.toml / .json / .jsonc) is missing or invalid."""

    code = "pyflow.config"


class UserCodeError(PyflowError):
    """The user's Worker module could not be loaded (syntax error, import error, missing class)."""

    code = "pyflow.user_code"


class StorageError(PyflowError):
    """The state store could not be opened or is from an incompatible pyflow version."""

    code = "pyflow.storage"


class StoreUnavailable(StorageError):
    """The store cannot be reached right now (its server is down, restarting, or the network
    dropped); the store reconnects by itself. It has said so once (``reported``), so whoever
    gets this error need not say it again: it retries later."""

    code = "pyflow.store_unavailable"
    reported = True


class StateLostError(StorageError):
    """The state database can no longer be written at all: it was deleted or replaced while
    this process had it open (whatever it wrote from then on would be lost), or the store's
    writer stopped. Nothing more is written; the process must stop."""

    code = "pyflow.state_lost"


# --- errors of the workflow runtime (reference names, SPEC A7) ------------------------------------


class WorkflowError(Exception):
    """An error raised by the Workflows runtime for an invalid operation.

    ``error_code`` is the reference's dotted code (``instance.not_found``); when given, the message
    is formatted as the reference formats it: ``(<code>) <message>``.
    """

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(f"({code}) {message}" if code else message)
        self.error_code = code


class NeedsCodeError(WorkflowError):
    """An action runs the user's code (rollbacks), which this process does not run."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.error_code = "pyflow.needs_code"


class InstanceNotFoundError(WorkflowError, NotFoundError):
    """``get()`` or a handle operation named an instance that does not exist."""

    code = "instance.not_found"

    def __init__(self, instance_id: str, workflow: str) -> None:
        WorkflowError.__init__(self, "instance.not_found")
        self.message = f'Workflow instance "{instance_id}" not found in workflow "{workflow}".'
        self.instance_id = instance_id
        self.workflow = workflow


class InvalidInstanceIdError(WorkflowError, InvalidInputError):
    """``create()`` got an id that breaks the id rule."""

    code = "instance.invalid_id"

    def __init__(self, instance_id: object) -> None:
        WorkflowError.__init__(self, "Workflow instance has invalid id")
        self.message = (
            f"Invalid instance id {instance_id!r}: use 1-100 letters, digits, '_' or '-', "
            "not starting with '-'."
        )


class DuplicateInstanceError(WorkflowError, ConflictError):
    """``create()`` got an explicit id that an instance of the workflow already has."""

    code = "instance.already_exists"

    def __init__(self, instance_id: str) -> None:
        WorkflowError.__init__(
            self, f'Workflow instance with id "{instance_id}" already exists', "instance.already_exists")
        self.message = f'Instance "{instance_id}" already exists.'


class TooManyRequestsError(WorkflowError, PyflowError):
    """A platform limit refused to create instances: the platform answers HTTP 429, and so do
    pyflow's local API, the binding (this exception, which user code may catch) and the CLI.
    ``retry_after_s`` says when trying again can succeed, if that is known."""

    code = "pyflow.too_many_requests"

    def __init__(self, message: str, code: str, retry_after_s: float | None = None) -> None:
        WorkflowError.__init__(self, message, code)
        self.message = message
        self.code = code  # the stable code is the specific limit's (``instance.queue_full``)
        self.retry_after_s = retry_after_s


class RateLimitedError(TooManyRequestsError):
    """Instances are being created faster than the plan's creation rate allows."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message, "instance.rate_limited", retry_after_s)


class QueueFullError(TooManyRequestsError):
    """As many instances wait in ``queued`` as the plan allows."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "instance.queue_full")


TOO_MANY_CODES = frozenset({"instance.queue_full", "instance.rate_limited",
                            TooManyRequestsError.code})


def too_many_requests(code: str, message: str, retry_after_s: float | None
                      ) -> TooManyRequestsError:
    """The error a 429 with stable code ``code`` stands for (pyflow's client raises it)."""
    if code == "instance.queue_full":
        return QueueFullError(message)
    if code == "instance.rate_limited" and retry_after_s is not None:
        return RateLimitedError(message, retry_after_s)
    return TooManyRequestsError(message, code or TooManyRequestsError.code, retry_after_s)


class WorkflowFatalError(Exception):
    """Thrown into user code for misuse of the step API; fails the instance if not caught."""


class WorkflowTimeoutError(Exception):
    """A step attempt or an event wait ran past its timeout."""

    def __init__(self, timeout_ms: float) -> None:
        super().__init__(f"Execution timed out after {format_ms(timeout_ms)}ms")
        self.timeout_ms = timeout_ms


class WorkflowInternalError(Exception):
    """The engine could not do what a step needed (e.g. its stored state was unreadable)."""


class NonRetryableError(Exception):
    """Raise from a step to fail it at once, with no further attempts.

    Same name as Cloudflare's ``workers.workflows.NonRetryableError``; ``name`` may override the
    error name recorded in the log.
    """

    def __init__(self, message: str = "", name: str | None = None) -> None:
        super().__init__(message)
        if name is not None:
            self.name = name
            self.recorded_name = name


def error_name(error: BaseException) -> str:
    """The name an error is recorded under: its class name (SPEC A7) — never an attribute that
    happens to be called ``name`` (``AttributeError.name`` is the missing attribute). Only errors
    that stand for another error set ``recorded_name``."""
    recorded = error.__dict__.get("recorded_name")
    return recorded if isinstance(recorded, str) else type(error).__name__


class NonRetryableDelayError(Exception):
    """A dynamic retry delay function failed; the step gets no further attempts."""


def error_code(error: BaseException) -> str:
    """The stable code of an error, as the local API reports it (``pyflow_code``) and pyflow's
    client maps it back: pyflow's own (``pyflow.invalid_input``, ``instance.not_found``...),
    the runtime's (``instance.cannot_terminate``...), else ``workflow.error`` for a runtime error
    without one and ``pyflow.internal`` for anything else."""
    if isinstance(error, PyflowError):
        return error.code
    if isinstance(error, WorkflowError):
        return error.error_code or "workflow.error"
    return "pyflow.internal"


def format_ms(ms: float) -> str:
    """Format a millisecond count as JavaScript's ``String(number)`` does (1000, 1.5, -5)."""
    if ms == int(ms):
        return str(int(ms))
    return repr(ms)
