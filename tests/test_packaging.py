"""The wheel built from pyproject.toml: every part of the application with the files it reads,
and no development stand-in (devserver/ is run from a checkout, never shipped)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from dependencies import MAY_IMPORT
from tests.live import ROOT


def test_the_wheel_holds_the_application_and_not_the_development_stand_ins(
    tmp_path: Path,
) -> None:
    # Built from a copy of the checked-in files: setuptools leaves a build/ directory beside
    # the sources, and a stale one would be packed into the next wheel.
    source = tmp_path / "source"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    for name in filter(None, tracked.split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("shuyuan-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0].removesuffix(".py") for name in names}
    assert not [name for name in names if name.startswith("devserver")]
    shipped = set(MAY_IMPORT) - {"devserver"}
    assert shipped <= tops, f"missing from the wheel: {shipped - tops}"
    # Read at run time: the covers' font and its licence (package data, not modules).
    assert {"store/fonts/NotoSansSC-Shuyuan-subset.otf", "store/fonts/OFL.txt"} <= set(names)
