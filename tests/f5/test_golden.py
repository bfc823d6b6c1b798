"""Golden files: the AS3 declaration of representative load balancers, byte for byte.

A declaration-builder change shows up here as a diff of the JSON BIG-IP receives. Regenerate
after an intended change with ``.venv/bin/python -m tests.f5.golden_cases`` and review the
diff. Each golden file must also be valid against F5's AS3 3.56 schema (the provider's own
validator, the one the converger runs before it sends a declaration).
"""

from __future__ import annotations

import json

import pytest

from statera.providers.f5 import declaration as decl
from statera.providers.f5.schema import validate
from tests.f5.golden_cases import CASES, GOLDEN, rendered
from tests.golden_graphs import byte_for_byte_tests, features, golden_files

FILES = golden_files(GOLDEN, ".json", CASES)


test_declaration_matches_golden_file, test_every_golden_file_has_a_case = byte_for_byte_tests(
    GOLDEN, ".json", CASES, rendered, "tests.f5.golden_cases")


def test_cases_cover_everything_f5_declares() -> None:
    seen = features(CASES.values())
    assert seen["listener_protocols"] >= set(decl.SERVICE_CLASSES)
    assert seen["pool_protocols"] >= decl.POOL_PROTOCOLS
    assert seen["algorithms"] >= set(decl.ALGORITHMS)
    assert seen["persistence"] >= decl.PERSISTENCE_TYPES
    assert seen["monitors"] >= set(decl.MONITOR_TYPES)
    assert seen["l7_actions"] >= decl.L7_ACTIONS
    assert seen["l7_rules"] >= decl.L7_RULE_TYPES
    assert seen["l7_compare"] >= set(decl.COMPARE)


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_declaration_is_valid_as3(case: str) -> None:
    validate(json.loads(FILES[case].read_text()))  # raises SchemaError naming the path
