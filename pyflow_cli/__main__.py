"""``python -m pyflow_cli``: the ``pyflow`` command."""

from pyflow_cli.cli.main import run

if __name__ == "__main__":
    run()
