"""How the explorer's API routes for bindings, crons and engines answer, and the query
parameters they share.

Each is a local API route (``server.routes``) whose handler returns a response or raises:
``ApiError`` (status, code, message), ``ValidationFailed``, ``BodyTooLarge``, or a binding's own
error for what the caller asked (``BindingError`` or ``TypeError``, as user code would get it: a
4xx here). Anything else is a 500 that the dev server logs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from pyflow_cli.bindings.errors import BindingError, KVError
from pyflow_cli.server.envelope import FAILED, ApiError
from pyflow_cli.server.routes import Answers, ApiRoute, Handler
from pyflow_cli.server.validation import ValidationFailed

MAX_SEQ = 2**63 - 1


def binding_mistake(exc: Exception) -> ApiError | None:
    """A binding's own error for what the caller asked, as user code would get it: a 4xx."""
    if isinstance(exc, KVError):
        return ApiError(exc.status if 400 <= exc.status < 500 else 400, FAILED, exc.message)
    if isinstance(exc, BindingError | TypeError):
        return ApiError(400, FAILED, str(exc))
    return None


class Routes:
    """Builds the local-data routes of one app; ``warn`` hears of their unexpected failures."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self.answers = Answers(warn, mistake=binding_mistake)

    def route(self, path: str, handlers: dict[str, Handler]) -> ApiRoute:
        """``path`` (under the API prefix) answered by ``handlers`` per method."""
        return ApiRoute(path, handlers, self.answers)


def whole_number(request: Request, name: str, default: int | None, low: int = 0,
                 high: int = MAX_SEQ) -> int | None:
    """Query parameter ``name`` as a whole number from ``low`` to ``high`` (``default`` when
    absent); ``ValidationFailed`` names it and the value otherwise."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit() and low <= int(text) <= high):
        raise ValidationFailed([f'{name}: expected a whole number from {low} to {high}, got "{text}"'])
    return int(text)


def text_param(request: Request, name: str, max_length: int = 1024) -> str | None:
    """Query parameter ``name`` (None when absent or empty), at most ``max_length`` characters."""
    text = request.query_params.get(name)
    if not text:
        return None
    if len(text) > max_length:
        raise ValidationFailed([f"{name}: at most {max_length} characters, got {len(text)}"])
    return text


def not_found(message: str, code: int = FAILED) -> ApiError:
    return ApiError(404, code, message)


def expect_object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationFailed([f"{what}: expected a JSON object"])
    return body
