"""YAML with duplicate keys refused at any depth; merge keys and plain values read as PyYAML's SafeLoader does."""

from __future__ import annotations

import pytest
import yaml

from srdistill.recipe.unique_keys import DUPLICATE, parse_yaml


def test_a_key_given_twice_is_refused_with_both_lines() -> None:
    with pytest.raises(yaml.constructor.ConstructorError) as info:
        parse_yaml("train:\n  lr: 1\n  lr: 2\n")
    assert f"the key 'lr' {DUPLICATE} (lines 2 and 3)" in str(info.value)


def test_merge_keys_and_values_read_as_safe_yaml() -> None:
    text = "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\nrate: 2e-4\n"
    assert parse_yaml(text) == {"base": {"x": 1, "y": 2}, "other": {"x": 1, "y": 3}, "rate": "2e-4"}
    with pytest.raises(yaml.constructor.ConstructorError):
        parse_yaml("!!python/object/apply:os.system ['true']")
