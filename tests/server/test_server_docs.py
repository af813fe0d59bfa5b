"""docs/dev.md works as written: its example project runs under ``pyflow dev`` and answers as shown,
and every option of the command is documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer
from serverkit import DevProcess, wait_until

from pyflow_cli.cli import dev

DOC = Path(__file__).resolve().parents[2] / "docs" / "dev.md"
FILE_BLOCK = re.compile(r"<!-- file: (?P<path>\S+) -->\n```\w*\n(?P<body>.*?)```", re.DOTALL)


def test_every_dev_option_is_documented() -> None:
    text = DOC.read_text()
    app = typer.Typer()
    app.callback()(lambda: None)
    dev.register(app)
    group = typer.main.get_command(app)
    command = group.commands["dev"]  # type: ignore[attr-defined]
    for param in command.params:
        for flag in param.opts:
            if flag.startswith("--"):
                assert f"`{flag}" in text or f", {flag}" in text, f"{flag} is not in docs/dev.md"


def test_the_documented_project_runs_as_written(tmp_path: Path) -> None:
    text = DOC.read_text()
    files = {m["path"]: m["body"] for m in FILE_BLOCK.finditer(text)}
    assert set(files) == {"wrangler.toml", "src/entry.py"}
    root = tmp_path / "hello-app"
    for relative, body in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(body)
    server = DevProcess(root).ready()
    try:
        for line in ("- Workflows:", "  - HELLO: HelloWorkflow (hello)", "- Vars:",
                     '  - GREETING: "hello"', "⎔ Starting local server..."):
            assert line in server.lines
        with server.client() as client:
            created = client.post("/", content=b'{"name": "Ada"}')  # as curl -d sends it
            instance_id = created.json()["id"]
            status = wait_until(lambda: (s := client.get(f"/{instance_id}").json())
                                ["status"] == "complete" and s)
        documented = re.search(r"# (\{\"status\": \"complete\".*\})", text)
        assert documented is not None
        assert status == json.loads(documented.group(1))
        server.wait_for(rf"\[pyflow:info\] hello {instance_id}: 🕒 queued \(🔗 Binding\)")
        server.wait_for(rf"\[pyflow:info\] hello {instance_id}: ✅ complete \(\d")
        server.wait_for(r"\[pyflow:info\] POST / 200 OK \(\d+ms\)")
    finally:
        assert server.stop() == 0
