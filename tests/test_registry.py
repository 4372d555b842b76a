"""Registries: names to config models and builders; the catalog of built-in components."""

from __future__ import annotations

from typing import Literal

import pytest

from srdistill.catalog import catalog
from srdistill.errors import UnknownNameError, UserError
from srdistill.registry import ComponentConfig, Registry, did_you_mean

BUILT_INS = {
    "students": {"rrdb", "bicubic", "bilinear", "spandrel"},
    "teachers": {"timm"},
    "degradations": {"bicubic", "gaussian_blur", "noise", "jpeg", "chain", "realesrgan"},
    "losses": {"logit_mse", "ce_gap", "kl", "pixel_l1", "feature", "perceptual"},
    "datasets": {"fashion_mnist", "image_folder", "shards", "photo_folder"},
    "metrics": {"top1", "top5", "ce", "logit_mse", "agreement", "psnr", "ssim", "psnr_y", "ssim_y", "ce_gap", "lpips"},
}

# every registered component, as (registry, name): new components are picked up automatically
ALL_ENTRIES = [(section, name) for section, reg in catalog().registries().items() for name in reg.names()]


class WidgetConfig(ComponentConfig):
    """A widget for the tests."""

    type: Literal["widget"]
    size: int = 1


class GadgetConfig(ComponentConfig):
    type: Literal["gadget"]


def build_widget(cfg: WidgetConfig) -> str:
    return f"widget of size {cfg.size}"


def build_gadget(cfg: GadgetConfig) -> str:
    """Builds a gadget."""
    return "gadget"


@pytest.fixture
def registry() -> Registry[str]:
    reg: Registry[str] = Registry("gizmo")
    reg.add(WidgetConfig, build_widget, source="pkg_a")
    reg.add(GadgetConfig, build_gadget)
    return reg


def test_add_and_get(registry: Registry[str]) -> None:
    entry = registry.get("widget")
    assert entry.name == "widget"
    assert entry.config is WidgetConfig
    assert entry.build is build_widget
    assert entry.source == "pkg_a"
    assert registry.get("gadget").source == "srdistill"
    assert "widget" in registry and "nope" not in registry
    assert len(registry) == 2
    assert registry.names() == ["gadget", "widget"]
    assert [e.name for e in registry] == ["gadget", "widget"]
    assert registry.configs() == [GadgetConfig, WidgetConfig]


def test_summary_is_first_doc_line_of_config_else_builder(registry: Registry[str]) -> None:
    assert registry.get("widget").summary == "A widget for the tests."
    assert registry.get("gadget").summary == "Builds a gadget."


def test_build_dispatches_on_type(registry: Registry[str]) -> None:
    assert registry.build(WidgetConfig(type="widget", size=3)) == "widget of size 3"


def test_plain_name_entries_have_no_config() -> None:
    reg: Registry[int] = Registry("metric")
    entry = reg.add("answer", lambda: 42)
    assert entry.config is None
    assert reg.configs() == []
    assert reg.get("answer").build() == 42


def test_unknown_name_suggests_and_lists_known(registry: Registry[str]) -> None:
    with pytest.raises(UnknownNameError) as info:
        registry.get("widgte")
    message = str(info.value)
    assert "Unknown gizmo 'widgte'" in message
    assert "Did you mean 'widget'?" in message
    assert "gadget, widget" in message
    assert isinstance(info.value, UserError) and isinstance(info.value, KeyError)


def test_unknown_name_without_close_match_has_no_suggestion(registry: Registry[str]) -> None:
    with pytest.raises(UnknownNameError) as info:
        registry.get("zzzzzzzz")
    assert "Did you mean" not in str(info.value)
    assert "gadget, widget" in str(info.value)


def test_check_raises_value_error_for_validators(registry: Registry[str]) -> None:
    assert registry.check("gadget") == "gadget"
    with pytest.raises(ValueError, match="Did you mean 'gadget'"):
        registry.check("gadgte")


def test_duplicate_name_names_both_sources(registry: Registry[str]) -> None:
    class OtherWidget(ComponentConfig):
        type: Literal["widget"]

    with pytest.raises(UserError) as info:
        registry.add(OtherWidget, build_widget, source="pkg_b")
    message = str(info.value)
    assert "'widget'" in message and "pkg_a" in message and "pkg_b" in message
    # the first registration survives
    assert registry.get("widget").config is WidgetConfig


def test_config_type_must_be_a_single_literal() -> None:
    class Untagged(ComponentConfig):
        type: str

    with pytest.raises(TypeError, match="Literal"):
        Registry("gizmo").add(Untagged, build_widget)


def test_config_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="extra"):
        WidgetConfig(type="widget", sise=2)


@pytest.mark.parametrize(
    ("name", "known", "expected"),
    [
        ("rrbd", ["rrdb", "bicubic"], " Did you mean 'rrdb'?"),
        ("psnrr", ["psnr", "ssim"], " Did you mean 'psnr'?"),
        ("qqqq", ["psnr", "ssim"], ""),
    ],
)
def test_did_you_mean(name: str, known: list[str], expected: str) -> None:
    assert did_you_mean(name, known) == expected


# -- the catalog of built-ins ---------------------------------------------------------------------


def test_catalog_is_cached() -> None:
    assert catalog() is catalog()


def test_catalog_has_every_built_in() -> None:
    registries = catalog().registries()
    assert set(registries) == set(BUILT_INS)
    for section, names in BUILT_INS.items():
        assert names <= set(registries[section].names()), section


@pytest.mark.parametrize(("section", "name"), ALL_ENTRIES, ids=[f"{s}-{n}" for s, n in ALL_ENTRIES])
def test_every_entry_is_described(section: str, name: str) -> None:
    entry = catalog().registries()[section].get(name)
    assert entry.summary, f"{section} '{name}' has no docstring summary (shown by `srdistill list`)"
    if name in BUILT_INS.get(section, set()):
        assert entry.source == "srdistill"
    else:  # a plugin's (the example one in plugins/, or one a developer installed)
        assert entry.source != "srdistill"
    if section == "metrics":
        assert entry.config is None
    else:
        assert entry.config is not None
        assert entry.config.model_fields["type"].annotation.__args__ == (name,)
