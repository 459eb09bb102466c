"""The docstring examples of the public API run as tests (``doctest``), so the documentation stays true."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["pixgrade", "pixgrade.api", "pixgrade.hf"])
def test_docstring_examples_run(name: str) -> None:
    if name == "pixgrade.hf":
        pytest.importorskip("datasets")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
    if name != "pixgrade":
        assert result.attempted > 0
