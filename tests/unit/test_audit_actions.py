"""The audit trail names every route's action: a route added without one would log ``Unknown``."""

from __future__ import annotations

import re

import pytest

import transcriber.api.http_api  # noqa: F401  (the resolver as the API function builds it)
from transcriber.api.audit import ACTIONS, action_of
from transcriber.api.routes import app

JOB_ID = "0123456789abcdef" * 2
#: A value for each path parameter the routes take; a new parameter must be added here.
SAMPLES = {"job_id": JOB_ID, "name": "meeting-terms"}
ROUTES = sorted({(route.method, route.path) for route in [*app._static_routes, *app._dynamic_routes]})


def _sample_path(template: str) -> str:
    def sample(match: re.Match[str]) -> str:
        assert match.group(1) in SAMPLES, f"no sample value for <{match.group(1)}> in {template}"
        return SAMPLES[match.group(1)]

    return re.sub(r"<(\w+)>", sample, template)


def test_the_router_has_the_routes_this_test_expects() -> None:
    # Powertools keeps no public list of routes (transcriber/api/routes.py reads the same fields).
    assert ("PUT", "/v1/transcriptions/<job_id>/speakers") in ROUTES
    assert ("POST", "/v1/audio/translations") in ROUTES
    assert len(ROUTES) >= 17


@pytest.mark.parametrize(("method", "template"), ROUTES)
def test_every_route_has_an_audit_action(method: str, template: str) -> None:
    action, job_id = action_of(method, _sample_path(template))
    assert action != "Unknown", f"{method} {template} has no entry in transcriber/api/audit.py ACTIONS"
    assert job_id == (JOB_ID if "<job_id>" in template else None)


def test_each_route_has_its_own_action() -> None:
    actions = [action_of(method, _sample_path(template))[0] for method, template in ROUTES]
    assert len(set(actions)) == len(actions), actions
    assert len(ACTIONS) == len(ROUTES)  # and no entry for a route that no longer exists
