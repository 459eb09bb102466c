"""Fixtures of the degradation tests (helpers live in degrade_testkit.py)."""

from __future__ import annotations

import numpy as np
import pytest
from degrade_testkit import make_product_photo


@pytest.fixture(scope="session")
def product_photo() -> np.ndarray:
    return make_product_photo()
