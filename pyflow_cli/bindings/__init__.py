"""``self.env.<BINDING>``: the objects user code calls, shaped like Cloudflare Python's.

- ``WorkflowBinding`` (``[[workflows]]``): create and control workflow instances;
- ``KVNamespace`` (``[[kv_namespaces]]``), ``R2Bucket`` (``[[r2_buckets]]``) and ``D1Database``
  (``[[d1_databases]]``): local emulations of Cloudflare's storage, persisted under the state
  directory (``LocalBindings`` opens them for a project).
"""

from pyflow_cli.bindings.workflow import WorkflowBinding, WorkflowInstance

__all__ = ["WorkflowBinding", "WorkflowInstance"]
