"""How the explorer's API routes for bindings, crons and engines answer.

Each is a Starlette route under the local API's prefix whose handler returns a response or
raises: ``ApiError`` (status, code, message), ``ValidationFailed``, ``BodyTooLarge``, or a
binding's own error for what the caller asked (``BindingError`` or ``TypeError``, as user code
would get it: a 4xx here). Anything else is a 500 that the dev server logs. Every request passes
``security.request_refusal`` first, the one place the local API's checks live.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pyflow_cli.bindings.errors import BindingError, KVError
from pyflow_cli.server.envelope import FAILED, UNHANDLED, ApiError, failure
from pyflow_cli.server.openapi import API_PATH
from pyflow_cli.server.security import BodyTooLarge, LocalOnly, request_refusal
from pyflow_cli.server.validation import ValidationFailed

Handler = Callable[[Request], Awaitable[Response]]
MAX_SEQ = 2**63 - 1


class StoredKey(Convertor[str]):
    """The rest of the path, whatever it holds: a KV key or R2 object key may have slashes and
    newlines (Starlette's ``path`` stops at a newline)."""

    regex = r"[\s\S]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("stored_key", StoredKey())


class Routes:
    """Builds the routes of one app: its policy, and where unexpected failures are reported."""

    def __init__(self, policy: LocalOnly, warn: Callable[[str], None]) -> None:
        self.policy = policy
        self.warn = warn

    def route(self, path: str, handlers: dict[str, Handler]) -> Route:
        """``path`` (under the API prefix) answered by ``handlers`` per method (GET answers HEAD
        too); a method it does not take reaches the local API, whose route table says 405."""

        async def endpoint(request: Request) -> Response:
            refused = request_refusal(self.policy, request)
            if refused is not None:
                status, why = refused
                code = UNHANDLED if status == 403 else FAILED
                return failure(status, [{"code": code, "message": why}])
            handler = handlers["GET" if request.method == "HEAD" else request.method]
            try:
                return await handler(request)
            except ApiError as exc:
                return failure(exc.status, [{"code": exc.code, "message": exc.message}])
            except ValidationFailed as exc:
                return failure(400, [{"code": FAILED, "message": m} for m in exc.issues])
            except BodyTooLarge as exc:
                return failure(413, [{"code": FAILED, "message": str(exc)}])
            except KVError as exc:
                status = exc.status if 400 <= exc.status < 500 else 400
                return failure(status, [{"code": FAILED, "message": exc.message}])
            except (BindingError, TypeError) as exc:
                return failure(400, [{"code": FAILED, "message": str(exc)}])
            except Exception as exc:
                self.warn(f"Local API: {request.method} {request.url.path} failed: "
                          f"{type(exc).__name__}: {exc}")
                return failure(500, [{"code": UNHANDLED, "message": str(exc)}])

        return Route(API_PATH + path, endpoint, methods=list(handlers))


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
