"""Real presets are registered with hub repo ids; offline without weights is a clear error."""

from __future__ import annotations

import pytest

from tierflow.config import Settings
from tierflow.domain.errors import EngineUnavailable
from tierflow.domain.models import Tier
from tierflow.engines.base import RenderRequest
from tierflow.engines.catalog import build_registry


def test_sd_turbo_offline_error_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    reg = build_registry(Settings(home=tmp_path, offline=True, preset="real"))
    engine = reg.get("sd-turbo")
    info = engine.describe()
    assert info.repo == "stabilityai/sd-turbo" and info.tier == Tier.DRAFT
    assert not info.available
    with pytest.raises(EngineUnavailable) as e:
        list(engine.render(RenderRequest(task="txt2img", prompt="x", seeds=[1], width=512, height=512)))
    text = str(e.value)
    assert "stabilityai/sd-turbo" in text and "not on disk" in text and "tierflow models pull" in text


def test_auto_preset_falls_back_to_tiny_with_a_notice(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    reg = build_registry(Settings(home=tmp_path, offline=True, preset=None))
    assert reg.default_id(Tier.DRAFT) == "tiny-draft"
    assert reg.default_id(Tier.FINAL) == "tiny-final"
    assert any("sd-turbo" in n and "tiny" in n for n in reg.notices)


def test_real_preset_named_explicitly_is_used(tmp_path):
    reg = build_registry(Settings(home=tmp_path, offline=True, preset="real"))
    assert reg.default_id(Tier.FINAL) == "sdxl"
