"""``pyflow dev``: the local server for the user's Worker, its bindings, the local explorer API,
hot reload and cron triggers.

Modules here may import Starlette, uvicorn and watchfiles; nothing outside this package and
``pyflow_cli.cli.dev`` imports them, so ``pyflow --help`` stays fast. ``session`` and ``cron``
are plain standard library and safe to import from anywhere.
"""
