"""Schemathesis hooks for tests/api/contract.rs.

The fuzzer may call every operation, but not cut off its own login halfway:
no logout (it always ends the caller's own session, so contract.rs leaves
the operation out; tests/api/auth.rs covers it), and no password,
session, profile or group change aimed at the fuzzing user itself (LARMKOLL_FUZZ_SELF is its id). Every
other user, and every other value, is fair game.
"""

import os

import schemathesis

SELF = {i for i in os.environ.get("LARMKOLL_FUZZ_SELF", "").split(",") if i}


@schemathesis.hook
def filter_case(ctx, case):
    path = case.operation.path
    params = case.path_parameters or {}
    target = params.get("id") if path.startswith("/api/v1/users/") else params.get("user_id")
    return str(target) not in SELF


# Positive cases must be ones the server accepts. What the schema states, the
# generator already honours; these are the rules it can only read in the
# descriptions (a cursor is one the API gave out; exactly one of two fields;
# a new user has a password or an external identity, or both;
# no day later than today; a period does not end before it starts; an
# Idempotency-Key is not reused for another body; a reference in a body names a
# record that exists, an area one of the fuzzing user's own; a personnummer has
# its check digit; alarm lead only with the role assessor; cabinet and hook
# together; something collected or missing; a webhook's http:// URL with
# allow_http).

import datetime
import itertools

_KEYS = itertools.count()
_LATEST = {"installation_date", "collected_on", "ordered_on", "signed_at", "registered_on", "deregistered_on"}
_EXACTLY_ONE = {
    "/api/v1/keys/{id}/sign-out": ("body", "group_id", "user_id"),
    "/api/v1/reports/audit-follow-up": ("query", "customer_id", "user_id"),
}


def _positive(case):
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode.is_positive


def _containers(case):
    for part in (case.query, case.body):
        if isinstance(part, dict):
            yield part


@schemathesis.hook("filter_case")
def exactly_one_of_two(ctx, case):
    rule = _EXACTLY_ONE.get(case.operation.path)
    if rule is None or not _positive(case):
        return True
    where, a, b = rule
    part = case.query if where == "query" else case.body
    if not isinstance(part, dict):
        return True
    return (part.get(a) is not None) != (part.get(b) is not None)


@schemathesis.hook("map_case")
def as_a_client_would(ctx, case):
    if not _positive(case):
        return case
    return _as_a_client_would(case)


def _as_a_client_would(case):
    if isinstance(case.query, dict):
        # A cursor is only ever a `next_cursor` the API handed out.
        case.query.pop("cursor", None)
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = f"fuzz-{os.getpid()}-{next(_KEYS)}"
    today = datetime.date.today().isoformat()
    for part in _containers(case):
        for name in _LATEST & part.keys():
            if isinstance(part[name], str) and part[name] > today:
                part[name] = today
        # A webhook's http:// target needs allow_http said in so many words.
        if case.operation.path == "/api/v1/webhooks" and str(part.get("url", "")).startswith("http://"):
            part["allow_http"] = True
        start, end = part.get("from"), part.get("to")
        if isinstance(start, str) and isinstance(end, str) and end < start:
            part["from"], part["to"] = end, start
    return case


# What exists, read once with the fuzzing user's own token (LARMKOLL_FUZZ_BASE,
# LARMKOLL_FUZZ_TOKEN), so that positive cases name real records.

import json
import urllib.request

_PICK = itertools.count()
_PNR = itertools.count()
_KNOWN = None


def _get(path):
    req = urllib.request.Request(
        os.environ["LARMKOLL_FUZZ_BASE"] + path,
        headers={"Authorization": "Bearer " + os.environ["LARMKOLL_FUZZ_TOKEN"]},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return json.load(res)
    except urllib.error.HTTPError:
        return None  # e.g. 403 for this role


def _known():
    global _KNOWN
    if _KNOWN is None:
        me = _get("/api/v1/auth/me") or {}
        areas = [a["id"] for a in _get("/api/v1/areas") or []]
        groups = _get("/api/v1/groups") or []
        customers = (_get("/api/v1/customers?limit=100") or {}).get("items", [])
        own = sorted({g["area_id"] for g in me.get("groups", [])})
        _KNOWN = {
            "me": me.get("id"),
            "areas": areas if me.get("role") == "admin" or not own else own,
            "groups": groups,
            "models": [m["id"] for m in _get("/api/v1/equipment/models") or []],
            "assessors": sorted({c["ordinary_assessor_id"] for c in customers if c.get("ordinary_assessor_id")}),
        }
    return _KNOWN


def _pick(items):
    return items[next(_PICK) % len(items)] if items else None


def _personnummer():
    """A valid personnummer (12 digits, Luhn check digit), another each time."""
    n = next(_PNR) * 7919 + os.getpid()
    born = datetime.date(1920, 1, 1) + datetime.timedelta(days=n % 25000)
    nine = born.strftime("%y%m%d") + f"{(n // 25000) % 1000:03d}"
    total = 0
    for i, d in enumerate(nine):
        v = int(d) * (2 if i % 2 == 0 else 1)
        total += v // 10 + v % 10
    return f"{born:%Y%m%d}{nine[6:]}{(10 - total % 10) % 10}"


def _integers(value):
    # JSON Schema counts 10.0 as an integer; serde's i32 does not, nor would a client send it.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integers(v) for v in value]
    return value


_FILES = {"/api/v1/import/key-register", "/api/v1/documents/{id}"}


@schemathesis.hook("filter_case")
def a_file_is_not_empty(ctx, case):
    if case.operation.path not in _FILES or not _positive(case):
        return True
    return case.body not in (None, b"", "")


@schemathesis.hook("map_case")
def real_references(ctx, case):
    if not _positive(case):
        return case
    return _real_references(case)


def _real_references(case):
    if not isinstance(case.body, dict):
        return case
    body = case.body = _integers(case.body)
    known = _known()
    path = case.operation.path
    if "model_id" in body and known["models"]:
        body["model_id"] = _pick(known["models"])
    if isinstance(body.get("area_id"), str) and known["areas"]:
        body["area_id"] = _pick(known["areas"])
    if isinstance(body.get("group_ids"), list):
        ids = [g["id"] for g in known["groups"]]
        body["group_ids"] = ids[: len(body["group_ids"])]
    if isinstance(body.get("group_id"), str) and known["groups"]:
        body["group_id"] = _pick(known["groups"])["id"]
    if isinstance(body.get("user_id"), str) and known["me"]:
        body["user_id"] = known["me"]
    if isinstance(body.get("ordinary_assessor_id"), str):
        body["ordinary_assessor_id"] = _pick(known["assessors"])
    if isinstance(body.get("receipt_document_id"), str):
        # A document of that very customer: none the fuzzer could know of.
        body["receipt_document_id"] = None
    if isinstance(body.get("personnummer"), str):
        body["personnummer"] = _personnummer()
    if body.get("role") not in (None, "assessor") or (body.get("alarm_lead") and body.get("role") is None and path != "/api/v1/users/{id}"):
        body["alarm_lead"] = False
    elif body.get("alarm_lead") and path == "/api/v1/users/{id}":
        body["role"] = "assessor"
    if path == "/api/v1/users" and not body.get("password") and not str(body.get("external_id") or "").strip():
        # A password, or the identity the user signs in with at the provider.
        body["password"] = "ett-langt-losenord-for-fuzz"
    if path == "/api/v1/keys/{id}/sign-in":
        cabinet, hook = body.get("cabinet"), body.get("hook")
        if (cabinet is None) != (hook is None):
            body["cabinet"], body["hook"] = cabinet or "1", hook or "1"
    if path == "/api/v1/messages":
        # Addressees that exist (the fuzzing user, real groups), at least one
        # in `to`; the ordinary assessor only of a customer that has one.
        for part in ("to", "copy"):
            a = body.get(part)
            if not isinstance(a, dict):
                continue
            if isinstance(a.get("users"), list):
                a["users"] = [known["me"]] if a["users"] and known["me"] else []
            if isinstance(a.get("groups"), list):
                a["groups"] = [g["id"] for g in known["groups"]][: len(a["groups"])]
            a["ordinary_assessor"] = False
        to = body.get("to")
        if isinstance(to, dict) and not (to.get("users") or to.get("groups") or to.get("roles")):
            to["roles"] = ["coordinator"]
        body["order_id"] = None
    if path == "/api/v1/orders/{id}/collect-equipment":
        if not body.get("items") and not body.get("missing"):
            body["items"] = ["TX-1"]
    return case


@schemathesis.hook
def before_add_examples(ctx, examples):
    # The examples phase runs no filter_case or map_case: the same fix-ups, here.
    for case in examples:
        _real_references(_as_a_client_would(case))


@schemathesis.hook
def before_call(ctx, case, kwargs):
    # A positive write on a record that exists names its current version, as a
    # client that has just read it would (otherwise nearly every one is 412).
    # Here, not in map_case: the stateful phase fills in the id only now.
    _no_null_ids_after_links(case, kwargs)
    _references_after_links(case, kwargs)
    _one_of_two_after_links(case, kwargs)
    if not _positive(case) or not case.headers or "If-Match" not in case.headers:
        return
    # The stateful phase follows links past filter_case: a change aimed at the
    # fuzzing user itself keeps a version no record has, and is refused.
    etag = '"0"' if not filter_case(ctx, case) else _current_etag(case)
    if etag:
        case.headers["If-Match"] = etag
        if isinstance(kwargs.get("headers"), dict):
            kwargs["headers"]["If-Match"] = etag


_NOBODY = "00000000-0000-4000-8000-000000000000"


def _no_null_ids_after_links(case, kwargs):
    # A link of the stateful phase whose source field was null (an item with no
    # customer) puts "None" in the path; a client names some id: one no record has.
    params = case.path_parameters or {}
    for name, value in list(params.items()):
        if value is None or value == "None":
            params[name] = _NOBODY
    url = kwargs.get("url")
    if isinstance(url, str) and "/None" in url:
        import re

        kwargs["url"] = re.sub(r"/None(?=/|$|\?)", "/" + _NOBODY, url)


def _one_of_two_after_links(case, kwargs):
    # A link of the stateful phase can fill in the second of two fields that
    # exclude each other (past filter_case): a client would send one.
    rule = _EXACTLY_ONE.get(case.operation.path)
    if rule is None or not _positive(case):
        return
    where, a, b = rule
    for part in (case.query if where == "query" else case.body, kwargs.get("params" if where == "query" else "json")):
        if isinstance(part, dict) and part.get(a) is not None and part.get(b) is not None:
            part.pop(b)


def _references_after_links(case, kwargs):
    # A link of the stateful phase can put an id of one kind where another is
    # meant (an area's id as the ordinary assessor): a client names real ones.
    if not _positive(case) or not isinstance(case.body, dict):
        return
    _real_references(case)
    if isinstance(kwargs.get("json"), dict):
        kwargs["json"] = case.body


def _current_etag(case):
    record = case.operation.path.split("{id}")[0] + "{id}"
    ident = (case.path_parameters or {}).get("id")
    if "{id}" not in case.operation.path or ident is None:
        return None
    req = urllib.request.Request(
        os.environ["LARMKOLL_FUZZ_BASE"] + record.replace("{id}", str(ident)),
        headers={"Authorization": "Bearer " + os.environ["LARMKOLL_FUZZ_TOKEN"]},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            etag = res.headers.get("ETag")
    except urllib.error.HTTPError:
        return None
    return etag
