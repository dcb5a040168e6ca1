"""What the README shows must work as shown."""

from __future__ import annotations

import re
from pathlib import Path

from switchboard.server.config import parse_config

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_configuration_example_loads() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README shows no configuration"
    for block in blocks:
        config = parse_config(block, "README.md")
        assert config.streams and config.queues


def test_the_two_commands_are_make_demo_and_make_test() -> None:
    quick_start = README.read_text().split("## Quick start", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^make (\w+)", quick_start, flags=re.M)
    assert commands == ["demo", "test"]
