#!/usr/bin/env python3
"""Re-resolve tierflow's whole environment into requirements-lock.txt (run by `make lock`).

pyproject.toml keeps lower bounds for people who install tierflow as a library; `make` installs
from this lock, so every machine (and CI) gets the same versions until someone refreshes it.

The resolution is pip's own (``pip install --dry-run --ignore-installed --report``), so it sees the
same indexes, find-links and constraints as the install that follows (on this project's machines:
torch from local files; uv and poetry resolve elsewhere and would fetch other torch wheels). Every
pin carries the sha256 of the file pip chose, and `make` installs with ``--require-hashes``: the
lock is for CPython 3.11 on x86_64 Linux, which this script checks before it resolves.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ((3, 11), "Linux", "x86_64")
# Installed by the venv itself and managed by `make` (pip is pinned from the lock's header).
SKIP = {"pip"}


def resolve(extras: str) -> dict:
    """pip's installation report for ``.[extras]`` as if nothing were installed."""
    with tempfile.TemporaryDirectory(prefix="tierflow-lock-") as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
               "--report", str(report), "-e", f"{ROOT}[{extras}]"]
        subprocess.run(cmd, check=True)
        return json.loads(report.read_text())


def render(report: dict, extras: str) -> str:
    """The lock text: a header that says how it was made, then ``name==version --hash=sha256:…`` lines."""
    pins = []
    for item in report["install"]:
        meta = item["metadata"]
        name = meta["name"]
        if name.lower() == "tierflow" or name.lower() in SKIP:
            continue
        hashes = (item.get("download_info", {}).get("archive_info") or {}).get("hashes") or {}
        if "sha256" not in hashes:
            raise SystemExit(f"lock: {name} {meta['version']} came without a sha256 (a local directory or VCS "
                             "requirement?); pin it to a released version in pyproject.toml")
        pins.append((name.lower(), f"{name}=={meta['version']} \\\n    --hash=sha256:{hashes['sha256']}"))
    env = report.get("environment", {})
    header = [
        "# tierflow's locked environment: `make` installs exactly this (pip --require-hashes --no-deps).",
        "# Refresh with `make lock` after changing dependencies in pyproject.toml; do not edit by hand.",
        f"# Resolved for CPython {env.get('python_full_version')} on {env.get('sys_platform')} "
        f"{env.get('platform_machine')}, extras [{extras}].",
        f"# pip=={report.get('pip_version')}",
        "",
    ]
    return "\n".join(header + [line for _, line in sorted(pins)]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="local,server,hosted,postgres,scale,dev")
    parser.add_argument("--out", default=str(ROOT / "requirements-lock.txt"))
    args = parser.parse_args()
    here = (sys.version_info[:2], platform.system(), platform.machine())
    if here != TARGET:
        raise SystemExit(f"lock: resolve on CPython 3.11, Linux x86_64 (this is {here}); "
                         "run `make lock PYTHON=python3.11` on such a machine")
    text = render(resolve(args.extras), args.extras)
    out = Path(args.out)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(out)
    print(f"lock: {text.count('--hash=')} packages pinned in {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
