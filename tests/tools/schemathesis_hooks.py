"""Schemathesis hooks for tests/api/contract.rs.

The fuzzer may call every operation, but not cut off its own login halfway:
no logout of every session, and no password, session, profile or group
change aimed at the fuzzing user itself (LARMKOLL_FUZZ_SELF is its id). Every
other user, and every other value, is fair game.
"""

import os

import schemathesis

SELF = {i for i in os.environ.get("LARMKOLL_FUZZ_SELF", "").split(",") if i}


@schemathesis.hook
def filter_case(ctx, case):
    path = case.operation.path
    if path == "/api/v1/auth/logout":
        return not (isinstance(case.body, dict) and case.body.get("all_sessions") is True)
    params = case.path_parameters or {}
    target = params.get("id") if path.startswith("/api/v1/users/") else params.get("user_id")
    return str(target) not in SELF
