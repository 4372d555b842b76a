"""The end of a study: a missing seed's compare is named with its fix."""

from __future__ import annotations

import pytest
from rich.console import Console

from srdistill.errors import UserError
from srdistill.study.layout import lay_out
from srdistill.study.schema import load_study
from srdistill.study.summary import summarise


def test_a_missing_compare_is_named_with_its_fix(write_study) -> None:
    layout = lay_out(load_study(write_study(routes=[{"name": "bicubic", "kind": "bicubic"}])))
    with pytest.raises(UserError, match=r"seed0/compare.json is missing or unreadable") as caught:
        summarise(layout, Console(file=None))
    assert "Rerun the study" in (caught.value.fix or "")
