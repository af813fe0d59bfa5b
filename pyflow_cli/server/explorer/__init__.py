"""The Local Explorer: a live web dashboard of the project's workflows, served by ``pyflow dev``
at ``/cdn-cgi/local/explorer/`` from the files under ``static/`` (see docs/dashboard.md)."""
