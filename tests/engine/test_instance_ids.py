"""Generated instance ids (``pyflow_cli.ids``): random version-4 UUIDs, never repeated, not even
by a forked child that inherited the parent's pool of random bytes."""

from __future__ import annotations

import os
import uuid

from pyflow_cli.ids import new_instance_id


def test_ids_are_distinct_version_4_uuids_across_pool_refills() -> None:
    ids = [new_instance_id() for _ in range(1000)]  # ~4 refills of the pool
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    new_instance_id()  # the pool holds bytes the child inherits
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, to the parent
        os.close(read)
        os.write(write, new_instance_id().encode())
        os._exit(0)
    os.close(write)
    child_id = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child_id != new_instance_id()
