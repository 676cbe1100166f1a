"""The installed environment against the lock (`tierflow doctor`).

Assets record the library versions that rendered them; this says whether the environment now is
the locked one, and names every package that differs: a version other than the lock's, a locked
package that is not installed, an installed one the lock does not name.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from tierflow import __version__
from tierflow.domain.errors import InvalidInput

LOCK_NAME = "requirements-lock.txt"
LOCK_ENV = "TIERFLOW_LOCK"
KEY_LIBRARIES = ("torch", "torchvision", "diffusers", "transformers", "typer", "fastapi", "sqlalchemy")
NOT_LOCKED = {"pip", "tierflow"}  # the installer itself, and the project installed from its checkout
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
_TARGET = re.compile(r"^# Resolved for (.+?), extras")


@dataclass
class Difference:
    package: str
    installed: str | None
    locked: str | None

    @property
    def kind(self) -> str:
        if self.installed is None:
            return "missing"
        return "extra" if self.locked is None else "changed"


@dataclass
class EnvironmentReport:
    tierflow: str
    python: str
    platform: str
    lock: str | None
    lock_target: str | None
    locked: int
    installed: int
    key_libraries: dict[str, str | None]
    differences: list[Difference] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return self.lock is not None and not self.differences

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["differences"] = [{**asdict(d), "kind": d.kind} for d in self.differences]
        out["matches"] = self.matches
        return out


def find_lock(explicit: str | os.PathLike | None = None) -> Path | None:
    """``explicit``, else ``$TIERFLOW_LOCK``, else the lock of the checkout tierflow runs from."""
    chosen = explicit or os.environ.get(LOCK_ENV)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise InvalidInput(f"{path} is not a file", field="lock",
                               fix=f"pass the path of {LOCK_NAME} (in the tierflow checkout)")
        return path
    for folder in Path(__file__).resolve().parents:
        if (folder / LOCK_NAME).is_file() and (folder / "pyproject.toml").is_file():
            return folder / LOCK_NAME
    return None


def read_lock(path: Path) -> tuple[dict[str, str], str | None]:
    """Package (canonical name) → locked version, and the platform line of the lock's header."""
    pins: dict[str, str] = {}
    target = None
    for line in path.read_text().splitlines():
        if (m := _TARGET.match(line)) is not None:
            target = m.group(1)
        elif (m := _PIN.match(line.strip())) is not None:
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins, target


def installed() -> dict[str, str]:
    """Package (canonical name) → installed version, for this interpreter's environment."""
    out: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            out.setdefault(canonicalize_name(name), dist.version)
    return out


def compare(lock: str | os.PathLike | None = None) -> EnvironmentReport:
    """This environment against the lock (no lock found: the environment alone, ``lock`` None)."""
    path = find_lock(lock)
    have = installed()
    pins, target = read_lock(path) if path else ({}, None)
    report = EnvironmentReport(
        tierflow=__version__, python=platform.python_version(),
        platform=f"{sys.platform} {platform.machine()}", lock=str(path) if path else None, lock_target=target,
        locked=len(pins), installed=len(have), key_libraries={k: have.get(k) for k in KEY_LIBRARIES},
    )
    if path:
        for name in sorted(set(pins) | set(have)):
            if name in NOT_LOCKED or pins.get(name) == have.get(name):
                continue
            report.differences.append(Difference(name, have.get(name), pins.get(name)))
    return report
