"""examples/config.yaml keeps its comments when a tool edits it with ruamel.yaml."""

from __future__ import annotations

import io

import pytest
from jobs_support import TRAIN


def test_config_edit_keeps_comments_and_changes_the_value() -> None:
    yaml = pytest.importorskip("ruamel.yaml", reason="ruamel.yaml is a core dependency of mlintern")
    source = (TRAIN.parent / "config.yaml").read_text()
    editor = yaml.YAML()
    config = editor.load(source)
    assert config["optimizer"]["lr"] == 0.1
    config["optimizer"]["lr"] = 0.05
    out = io.StringIO()
    editor.dump(config, out)
    edited = out.getvalue()
    comments = [line.split("#", 1)[1] for line in source.splitlines() if "#" in line]
    assert comments and all(comment in edited for comment in comments)
    assert "lr: 0.05" in edited and "lr: 0.1 " not in edited
