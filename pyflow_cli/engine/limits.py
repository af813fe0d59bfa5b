"""Every limit and identifier rule, in one place (SPEC §1.5, §2.1, §2.7, A3)."""

from __future__ import annotations

import re

MAX_INSTANCE_ID_LENGTH = 100
INSTANCE_ID_PATTERN = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9\-_]*$")
# ids accepted by delete / batch delete (cron-generated ids included), SPEC §1.5
MAX_ADDRESSABLE_ID_LENGTH = 271
ADDRESSABLE_ID_PATTERN = re.compile(r"^[a-zA-Z0-9, */#_\-]+$")
RESERVED_INSTANCE_IDS = frozenset({"batch", "terminate", "terminateAll"})
_CF_HEX_ID = re.compile(r"^cf_[0-9a-f]{64}$")

WORKFLOW_NAME_RULE = (
    "Workflow names must be 1-64 characters long, start with a letter, number, or underscore, "
    "and may only contain letters, numbers, underscores, or hyphens."
)

MAX_STEP_NAME_LENGTH = 256
_CONTROL_CHARS = re.compile(r"[\x00-\x1f]")

DEFAULT_STEP_LIMIT = 10_000
MAX_STEP_LIMIT = 25_000

MIB = 1024 * 1024
MAX_STEP_RESULT_BYTES = 1 * MIB
MAX_PARAMS_BYTES = 1 * MIB
MAX_EVENT_PAYLOAD_BYTES = 1 * MIB
MAX_BATCH_SIZE = 100


def is_valid_instance_id(instance_id: object) -> bool:
    """The create-time id rule: ``^[a-zA-Z0-9_][a-zA-Z0-9-_]*$``, at most 100 characters."""
    return (
        isinstance(instance_id, str)
        and 0 < len(instance_id) <= MAX_INSTANCE_ID_LENGTH
        and INSTANCE_ID_PATTERN.fullmatch(instance_id) is not None
    )


def is_reserved_instance_id(instance_id: str) -> bool:
    """Ids the new-style batch create refuses (they collide with API routes)."""
    return instance_id in RESERVED_INSTANCE_IDS or _CF_HEX_ID.fullmatch(instance_id) is not None


def is_addressable_id(instance_id: object) -> bool:
    """The looser rule for ids that delete accepts."""
    return (
        isinstance(instance_id, str)
        and 0 < len(instance_id) <= MAX_ADDRESSABLE_ID_LENGTH
        and ADDRESSABLE_ID_PATTERN.fullmatch(instance_id) is not None
    )


def is_valid_step_name(name: object) -> bool:
    return (
        isinstance(name, str)
        and len(name) <= MAX_STEP_NAME_LENGTH
        and _CONTROL_CHARS.search(name) is None
    )


def format_size(size: int) -> str:
    """``1572864`` -> ``"1.5 MiB (1572864 bytes)"``, for limit messages."""
    if size >= MIB:
        return f"{size / MIB:.1f} MiB ({size} bytes)"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB ({size} bytes)"
    return f"{size} bytes"
