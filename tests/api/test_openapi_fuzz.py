"""The served OpenAPI document carries the real request bodies, and schemathesis, generating
requests from it (bodies included), finds no server error, on each database.

The fuzz run is bounded: :data:`EXAMPLES` generated requests per operation (set
``STATERA_FUZZ_EXAMPLES`` for a longer run), valid and invalid ones (schemathesis's positive and
negative modes), under ``noauth`` (every caller is admin, so requests
reach the handlers' deepest paths). Half the time a path parameter is replaced by the id of a
real object of the same kind (a small world built first), so updates and deletes reach real
rows rather than 404s; after each request pending objects become ACTIVE again, as the provider's
status report would make them, so later requests are not all 409s.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from sqlalchemy import select

from statera.api import openapi
from statera.db import models as m
from tests.api.conftest import Api
from tests.api.world import activate, build_world

EXAMPLES = int(os.environ.get("STATERA_FUZZ_EXAMPLES", "12"))


def test_document_declares_every_request_body(api: Api) -> None:
    doc = api.get("/openapi.json").json()
    components = doc["components"]["schemas"]
    writes = 0
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert "422" not in operation["responses"], (method, path)
            if method not in ("post", "put"):
                continue
            writes += 1
            if path.endswith(("/failover", "/config")):
                assert "requestBody" not in operation, path
                continue
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            ref = schema["properties"][schema["required"][0]] if "properties" in schema else schema
            assert ref["$ref"].split("/")[-1] in components, path
    assert writes > 25
    lb = components["LoadBalancerPost"]["properties"]
    assert {"format": "uuid"}.items() <= lb["vip_subnet_id"]["anyOf"][0].items()
    assert "listeners" in lb and components["LoadBalancerPost"]["additionalProperties"] is False
    create = doc["paths"]["/v2/lbaas/loadbalancers"]["post"]["requestBody"]
    assert create["content"]["application/json"]["schema"]["required"] == ["loadbalancer"]


def test_an_undeclared_write_route_refuses_to_build() -> None:
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/new")
    def brand_new_write() -> None: ...

    with pytest.raises(RuntimeError, match="brand_new_write"):
        openapi.check_bodies(app)


def _aim(case: Any, data: st.DataObject, ids: dict[str, str]) -> None:
    """Replace some path parameters by ids of real objects of that kind."""
    for name in list(case.path_parameters or {}):
        real = ids.get(name)
        if name == "profile_id":
            real = ids["flavorprofile_id" if "flavorprofiles" in case.path else "azprofile_id"]
        elif name == "project_id":
            real = "alice"
        elif name == "name":
            real = "az"
        elif name == "provider":
            real = "noop"
        if real is not None and data.draw(st.booleans(), label=f"real {name}"):
            case.path_parameters[name] = real


def _strategy(operation: Any) -> st.SearchStrategy[Any]:
    """Valid requests and, where there is something to get wrong (parameters, a body),
    invalid ones: wrong types, values out of range, malformed dates and the like."""
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    has_inputs = bool(operation.body) or any(True for _ in operation.iter_parameters())
    if not has_inputs:
        return positive
    return st.one_of(positive, operation.as_strategy(GenerationMode.NEGATIVE))


def _fuzz(api: Api, ids: dict[str, str], headers: dict[str, str] | None = None) -> list[str]:
    """Run schemathesis over every operation of the served document; the 5xx answers."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    # /v2.0/lbaas and /v2.0/octavia serve the very same handlers as /v2/...: fuzz them once.
    schema = schema.exclude(path_regex=r"^/v2\.0/(lbaas|octavia)/")
    failures: list[str] = []
    counted = {"requests": 0, "operations": 0}
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        counted["operations"] += 1

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=_strategy(operation), data=st.data())
        def probe(case: Any, data: st.DataObject) -> None:
            _aim(case, data, ids)
            response = case.call(headers=headers)
            counted["requests"] += 1
            if case.method != "GET":
                activate(api)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} "
                                f"query={case.query} body={str(case.body)[:300]} -> "
                                f"{response.status_code} {response.text[:200]}")

        probe()
    elapsed = time.monotonic() - started
    print(f"schemathesis: {counted['operations']} operations, {counted['requests']} requests, "
          f"{elapsed:.1f} s, {len(failures)} server errors")
    assert counted["operations"] > 80 and counted["requests"] > counted["operations"]
    return failures


def test_schemathesis_finds_no_server_error(api: Api) -> None:
    """As admin (``noauth``): every request reaches its handler's deepest checks."""
    ids = build_world(api)
    assert _fuzz(api, ids) == []


def test_schemathesis_as_another_projects_member(api_factory: Any, backend: str) -> None:
    """As a member of project bob (``testing`` auth): no 5xx either, and none of alice's rows
    changes. Authorization does not depend on the database: SQLite only."""
    if backend != "sqlite":
        pytest.skip("authorization is the same on every database; fuzzed on SQLite")
    api = api_factory(auth_strategy="testing")
    ids = build_world(api)
    before = _rows_of(api, set(ids.values()) - {ids["pem"]})
    assert _fuzz(api, ids, {"X-Project-Id": "bob", "X-Roles": "member"}) == []
    assert _rows_of(api, set(ids.values()) - {ids["pem"]}) == before


def _rows_of(api: Api, ids: set[str]) -> list[tuple[str, ...]]:
    """Every row, in every table, that holds one of ``ids`` (as text, sorted)."""
    rows: list[tuple[str, ...]] = []
    with api.db.session() as s:
        for table in m.Base.metadata.sorted_tables:
            for row in s.execute(select(table)):
                text = tuple(map(repr, row))
                if any(i in value for value in text for i in ids):
                    rows.append((table.name, *text))
    return sorted(rows)
