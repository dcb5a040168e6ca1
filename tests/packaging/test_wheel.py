"""The built wheel installs everything under the one package `switchboard`, and imports."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

MODULES = [
    "switchboard.v1.gateway_pb2_grpc",
    "switchboard.v1.desktop_pb2_grpc",
    "switchboard.v1.supervisor_pb2_grpc",
    "switchboard.v1.admin_pb2_grpc",
    "switchboard.actors.centre",
    "switchboard.server.app",
    "switchboard.server.cli",
    "switchboard.clients.connection",
    "switchboard.clients.replay.command",
]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("switchboard-*.whl")
    return built


def test_wheel_holds_only_the_switchboard_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.startswith("switchboard-")}
    assert top == {"switchboard"}
    assert "switchboard/v1/gateway.proto" in names
    assert "switchboard/server/app.py" in names
    assert "switchboard/clients/replay/driver.py" in names


def test_installed_wheel_imports_outside_the_repository(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    code = (
        "import importlib, switchboard\n"
        + "".join(f"importlib.import_module({m!r})\n" for m in MODULES)
        + "print(switchboard.__file__)"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip().startswith(str(target))


def test_editable_install_imports_from_the_repository() -> None:
    import switchboard
    import switchboard.server.app

    assert Path(switchboard.__file__).resolve().is_relative_to(REPO)
