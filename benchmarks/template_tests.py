"""How long `pytest` takes in a new project, for every template: the wheel is built from this
checkout and installed (with pytest and pytest-asyncio) into a fresh virtual environment, each
template is made into a project by `pyflow init`, and plain `pytest` is timed in it (best of
--reps runs). The target: under 5 seconds each, with no warnings.

    .venv/bin/python benchmarks/template_tests.py [--reps 3] [--workdir DIR]

Prints one line per template and exits 1 if any misses the target.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 5.0
_NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                                     ".mypy_cache", ".pytest_cache", ".ruff_cache", ".pyflow", ".data")


def install(workdir: Path) -> tuple[Path, dict[str, str]]:
    source = workdir / "source"
    shutil.copytree(REPO, source, ignore=_NOT_COPIED)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(source), "-w",
                    str(workdir / "dist")], check=True)
    [wheel] = (workdir / "dist").glob("pyflow_cli-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(workdir / "venv")], check=True)
    bin_dir = workdir / "venv" / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel), "pytest",
                    "pytest-asyncio"], check=True, env=env)
    return bin_dir, env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="pyflow-template-tests-"))
    bin_dir, env = install(workdir)
    names = sorted(p.name for p in (REPO / "templates").iterdir() if (p / "template.toml").is_file())
    missed = False
    for name in names:
        project = workdir / f"my-{name}"
        shutil.rmtree(project, ignore_errors=True)
        subprocess.run([str(bin_dir / "pyflow"), "init", project.name, "--template", name],
                       cwd=workdir, env=env, check=True, capture_output=True)
        times, output, code = [], "", 0
        for _ in range(args.reps):
            started = time.perf_counter()
            done = subprocess.run([str(bin_dir / "pytest")], cwd=project, env=env,
                                  capture_output=True, text=True, check=False)
            times.append(time.perf_counter() - started)
            output, code = done.stdout + done.stderr, done.returncode
        summary = output.strip().splitlines()[-1] if output.strip() else "(no output)"
        warned = "warning" in output.lower()
        ok = code == 0 and not warned and min(times) < TARGET_S
        missed |= not ok
        print(f"{name:20} best {min(times):5.2f} s  worst {max(times):5.2f} s  "
              f"{'ok' if ok else 'MISSED'}  {summary}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
