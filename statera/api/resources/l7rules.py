"""L7 rules: ``/l7policies/{l7policy_id}/rules[/{l7rule_id}]`` (envelope ``rule``/``rules``),
the HTTP edge of :mod:`statera.controller.l7rules`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy import select

from statera.api.deps import Services, caller, services
from statera.api.policy import Identity, authorize
from statera.api.resources import common
from statera.controller import l7rules, schemas
from statera.db import models as m

router = APIRouter()
SINGLE, PLURAL = "rule", "rules"


@router.get("/l7policies/{l7policy_id}/rules")
def list_l7rules(l7policy_id: str, request: Request, svc: Services = Depends(services),
                 ident: Identity = Depends(caller)) -> dict[str, Any]:
    with svc.db.read_session() as session:
        policy = l7rules.fetch_policy(session, l7policy_id)
        authorize(ident, l7rules.POLICY_TYPE, "get_all", policy.project_id)
        stmt = select(m.L7Rule).where(m.L7Rule.l7policy_id == policy.id)
        return common.listed(session, request, svc, common.list_spec(m.L7Rule, PLURAL),
                             stmt)


@router.get("/l7policies/{l7policy_id}/rules/{l7rule_id}")
def show_l7rule(l7policy_id: str, l7rule_id: str, request: Request,
                svc: Services = Depends(services),
                ident: Identity = Depends(caller)) -> dict[str, Any]:
    with svc.db.read_session() as session:
        _, rule = l7rules.policy_and_rule(session, l7policy_id, l7rule_id)
        authorize(ident, l7rules.POLICY_TYPE, "get_one", rule.project_id)
        return {SINGLE: common.render_one(session, request, rule)}


@router.post("/l7policies/{l7policy_id}/rules", status_code=201)
def create_l7rule(l7policy_id: str, payload: Any = Body(None),
                  svc: Services = Depends(services),
                  ident: Identity = Depends(caller)) -> dict[str, Any]:
    body = schemas.parse(schemas.L7RulePost, payload, SINGLE)
    return {SINGLE: l7rules.create(svc, ident, l7policy_id, body, common.render)}


@router.put("/l7policies/{l7policy_id}/rules/{l7rule_id}")
def update_l7rule(l7policy_id: str, l7rule_id: str, payload: Any = Body(None),
                  svc: Services = Depends(services),
                  ident: Identity = Depends(caller)) -> dict[str, Any]:
    body = schemas.parse(schemas.L7RulePut, payload, SINGLE)
    return {SINGLE: l7rules.update(svc, ident, l7policy_id, l7rule_id, body, common.render)}


@router.delete("/l7policies/{l7policy_id}/rules/{l7rule_id}", status_code=204)
def delete_l7rule(l7policy_id: str, l7rule_id: str, svc: Services = Depends(services),
                  ident: Identity = Depends(caller)) -> Response:
    l7rules.delete(svc, ident, l7policy_id, l7rule_id)
    return Response(status_code=204)
