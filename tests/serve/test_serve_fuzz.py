"""Bounded property-based fuzzing of the API from its own OpenAPI schema (schemathesis, in-process ASGI calls).

Every generated request must get an answer that the schema documents (status code, content type, headers, body
shape) and never a server error. Random bytes in ``files`` are not images, so 415 is the right answer for them;
the "positive data acceptance" check (which expects 2xx for any schema-valid body) is therefore excluded.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402
from serve_testkit import FakePredictor  # noqa: E402

from pixgrade.pipeline.scorer import Scorer  # noqa: E402
from pixgrade.serve.app import create_app  # noqa: E402

_LIMITS = {"max_upload_bytes": 64 * 1024, "max_files": 4, "max_queue": 8}
APP = create_app(Scorer(model=FakePredictor()), **_LIMITS)  # type: ignore[arg-type]
APP_WITH_KEY = create_app(Scorer(model=FakePredictor()), api_key="fuzz-key", **_LIMITS)  # type: ignore[arg-type]
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema_with_key = schemathesis.openapi.from_asgi("/openapi.json", APP_WITH_KEY).include(path="/v1/score")

_EXCLUDED = [positive_data_acceptance]
_SETTINGS = {"deadline": None, "derandomize": True, "suppress_health_check": list(HealthCheck)}


@pytest.fixture(scope="module", autouse=True)
def _stop_services() -> Iterator[None]:
    yield
    APP.state.service.stop()
    APP_WITH_KEY.state.service.stop()


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=10, **_SETTINGS)  # type: ignore[arg-type]
def test_api_answers_as_documented(case: schemathesis.Case) -> None:
    case.call_and_validate(excluded_checks=_EXCLUDED)


@pytest.mark.slow
@schema_with_key.parametrize()
@settings(max_examples=5, **_SETTINGS)  # type: ignore[arg-type]
def test_api_with_a_key_answers_as_documented(case: schemathesis.Case) -> None:
    case.call_and_validate(excluded_checks=_EXCLUDED)
