"""An integrator's day one in Python: a client generated from the committed
openapi/openapi.json by `openapi-python-client generate`, imported as
generated (no edits), walking the install routine from the assessor's
decision to the coordinator's execution. Driven by tests/api/clients.rs:

    python install_walk.py BASE_URL PHOTO.png PERSONNUMMER GENERATED_PROJECT_DIR

Prints one JSON line with what it did; any deviation raises (exit 1).
"""

import datetime
import hashlib
import io
import json
import re
import sys
import uuid

base_url, photo_path, personnummer, generated = sys.argv[1:5]
sys.path.insert(0, generated)

from larmkoll_api_client import AuthenticatedClient, Client  # noqa: E402
from larmkoll_api_client.api.auth import login  # noqa: E402
from larmkoll_api_client.api.customers import create_customer, list_customers  # noqa: E402
from larmkoll_api_client.api.documents import original, upload  # noqa: E402
from larmkoll_api_client.api.equipment import list_items  # noqa: E402
from larmkoll_api_client.api.lifecycle import (  # noqa: E402
    book,
    execute,
    get_order,
    grant,
    install,
    receive_keys,
)
from larmkoll_api_client.api.organisation import list_areas, list_groups  # noqa: E402
from larmkoll_api_client.models import (  # noqa: E402
    Address,
    BookBody,
    EmptyBody,
    EquipmentKind,
    DocumentKind,
    GroupKind,
    InstallBody,
    ItemState,
    LoginRequest,
    NewCustomer,
    NewDecision,
    OrderState,
    Problem,
    ReceiveKeysBody,
    Service,
)
from larmkoll_api_client.types import File  # noqa: E402


def check(condition, what):
    if not condition:
        raise AssertionError(f"check failed: {what}")


def ok(what, response, status=200):
    """The parsed body of a successful call."""
    if response.status_code != status or response.parsed is None or isinstance(response.parsed, Problem):
        raise AssertionError(f"{what}: expected {status}, got {response.status_code} {response.content[:500]!r}")
    return response.parsed


def refused(what, response, status, code):
    """The refusal, parsed by the client as the spec's Problem (problem+json)."""
    check(response.status_code == status, f"{what}: status {response.status_code}, expected {status}")
    check(
        response.headers.get("content-type") == "application/problem+json",
        f"{what}: content type {response.headers.get('content-type')}",
    )
    problem = response.parsed
    check(isinstance(problem, Problem), f"{what}: parsed as {type(problem).__name__}")
    check(problem.code == code, f"{what}: code {problem.code}, expected {code}")
    check(problem.status == status and problem.type_ == f"urn:larmkoll:problem:{code}", f"{what}: status and type")
    check(problem.detail and problem.detail_sv, f"{what}: detail and detail_sv")
    return problem


def etag_of(what, response):
    etag = response.headers.get("etag")
    check(etag is not None and re.fullmatch(r'"\d+"', etag), f"{what}: ETag {etag}")
    return etag


def logged_in(username):
    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
    tokens = ok(f"login {username}", login.sync_detailed(client=anonymous, body=LoginRequest(username=username, password="demo")))
    check(tokens.token_type == "Bearer", "token type")
    return AuthenticatedClient(base_url=base_url, token=tokens.access_token, raise_on_unexpected_status=True)


def from_stock(api, kind, prefix):
    """The first in-stock item of a kind, as the installer takes it from the shelf."""
    items = ok(f"stock of {kind}", list_items.sync_detailed(client=api, state=ItemState.IN_STOCK, kind=kind, limit=1000))
    serial = next((i.serial for i in items if i.serial.startswith(prefix)), None)
    check(serial is not None, f"a {kind} {prefix}… in stock")
    return serial


def main():
    day = datetime.date.today() - datetime.timedelta(days=1)
    assessor = logged_in("handlaggare")
    installer = logged_in("installator")
    coordinator = logged_in("koordinator")

    # Find or create the customer, in Boo, served by Boo's groups.
    boo = next((a for a in ok("areas", list_areas.sync_detailed(client=assessor)) if a.name == "Boo"), None)
    check(boo is not None, "area Boo")
    serving = [
        uuid.UUID(g.id)
        for g in ok("groups", list_groups.sync_detailed(client=assessor))
        if g.area_id == boo.id and g.kind != GroupKind.RECEPTION_TEAM
    ]
    check(len(serving) == 3, f"Boo's home care, alarm team and night patrol: {len(serving)}")
    found = ok("customer search", list_customers.sync_detailed(client=assessor, q=personnummer))
    created = not found.items
    if created:
        customer = ok(
            "create customer",
            create_customer.sync_detailed(
                client=assessor,
                idempotency_key=str(uuid.uuid4()),
                body=NewCustomer(
                    personnummer=personnummer,
                    first_name="Pia",
                    last_name="Pythonsson",
                    address=Address(street="Kanalvägen 6", postal_code="132 30", city="Saltsjö-Boo"),
                    area_id=uuid.UUID(boo.id),
                    group_ids=serving,
                    phone=None,
                    entry_notes="Portkod 1234.",
                ),
            ),
            201,
        )
    else:
        customer = found.items[0]
    check(customer.personnummer.endswith("-XXXX"), "personnummer masked")
    customer_id = uuid.UUID(customer.id)

    # The assessor grants a safety alarm: the decision and its install order.
    granted = ok(
        "grant",
        grant.sync_detailed(
            customer_id,
            client=assessor,
            idempotency_key=str(uuid.uuid4()),
            body=NewDecision(service=Service.SAFETY_ALARM, valid_from=day, valid_to=None),
        ),
        201,
    )
    check(granted.order.state == OrderState.RECEIVED, "install order received")
    order_id = uuid.UUID(granted.order.id)

    # The installer reads the order and books the visit with its ETag.
    read = get_order.sync_detailed(order_id, client=installer)
    ok("installer reads the order", read)
    etag = etag_of("read", read)
    check(etag == f'"{granted.order.version}"', "ETag is the version")
    booked = book.sync_detailed(
        order_id,
        client=installer,
        if_match=etag,
        idempotency_key=str(uuid.uuid4()),
        body=BookBody(visit_date=day, visit_time="09:30"),
    )
    check(ok("book", booked).order.state == OrderState.BOOKED, "booked")
    stale, etag = etag, etag_of("book", booked)

    # A write based on what was read before the booking is refused.
    refused(
        "book with a stale If-Match",
        book.sync_detailed(order_id, client=installer, if_match=stale, body=BookBody(visit_date=day)),
        412,
        "stale_version",
    )

    # The signed nyckelkvittens, photographed: PUT under an id the phone chose.
    with open(photo_path, "rb") as f:
        photo = f.read()
    document_id = uuid.uuid4()

    def put_photo():
        return upload.sync_detailed(
            document_id,
            client=installer,
            body=File(payload=io.BytesIO(photo), file_name="nyckelkvittens.png", mime_type="image/png"),
            kind=DocumentKind.KEY_RECEIPT,
            customer_id=customer_id,
            order_id=order_id,
            signed_by="Pia Pythonsson",
            signed_at=day,
        )

    stored = ok("upload", put_photo(), 201)
    sha256 = hashlib.sha256(photo).hexdigest()
    check(stored.sha256 == sha256, "stored under the photo's SHA-256")
    check(stored.content_type == "image/png" and stored.kind == DocumentKind.KEY_RECEIPT, "a PNG key receipt")
    resent = ok("upload again", put_photo(), 200)
    check(resent.id == stored.id and resent.created_at == stored.created_at, "a resend is no duplicate")

    # Keys received against the receipt, then the installation with serials from stock.
    key_number = f"PY-{uuid.uuid4().hex[:8]}"
    keys = receive_keys.sync_detailed(
        order_id,
        client=installer,
        if_match=etag,
        idempotency_key=str(uuid.uuid4()),
        body=ReceiveKeysBody(
            key_numbers=[key_number],
            count=2,
            cabinet="Skåp 1",
            hook="6",
            receipt_document_id=document_id,
        ),
    )
    check(ok("receive keys", keys).order.state == OrderState.KEYS_RECEIVED, "keys received")
    etag = etag_of("receive keys", keys)
    serials = [
        from_stock(installer, EquipmentKind.ALARM_UNIT, "TX-10"),
        from_stock(installer, EquipmentKind.ALARM_BUTTON, "WB-20"),
    ]
    installed = install.sync_detailed(
        order_id,
        client=installer,
        if_match=etag,
        idempotency_key=str(uuid.uuid4()),
        body=InstallBody(installation_date=day, serials=serials),
    )
    after_install = ok("install", installed).order
    check(after_install.state == OrderState.INSTALLED and after_install.installation_date == day, "installed on the day")
    etag = etag_of("install", installed)

    # An event the state does not allow: 409 problem+json naming what is allowed.
    not_allowed = refused(
        "book an installed order",
        book.sync_detailed(order_id, client=installer, if_match=etag, body=BookBody(visit_date=day)),
        409,
        "invalid_transition",
    )
    check("execute" in not_allowed.detail, f"the refusal names execute: {not_allowed.detail}")

    # The coordinator executes; a retry with the same Idempotency-Key replays.
    idempotency_key = str(uuid.uuid4())

    def run_execute():
        return execute.sync_detailed(
            order_id, client=coordinator, if_match=etag, idempotency_key=idempotency_key, body=EmptyBody()
        )

    first = run_execute()
    executed = ok("execute", first)
    check(executed.order.state == OrderState.EXECUTED, "executed")
    retry = run_execute()
    replayed = ok("execute again", retry)
    check(retry.headers.get("idempotent-replayed") == "true", "the retry is a replay")
    check(replayed.order.version == executed.order.version, "executed once")
    check(etag_of("execute again", retry) == etag_of("execute", first), "the replay carries the first answer's ETag")

    # Read back: state, history, and the receipt's original bytes.
    final = ok("read back", get_order.sync_detailed(order_id, client=coordinator))
    steps = [f"{t.from_.value}>{t.to.value}" for t in final.history]
    expected = ["received>booked", "booked>keys_received", "keys_received>installed", "installed>executed"]
    check(steps == expected, f"history {steps}")
    check(final.order.state == OrderState.EXECUTED and final.order.installation_date == day, "executed from the day")
    check(sorted(final.order.serials) == sorted(serials), "serials")
    # openapi-python-client 0.29 parses only JSON, text and octet-stream bodies:
    # it leaves the image/* 200 out, so this call must not raise on "unexpected".
    downloader = AuthenticatedClient(base_url=base_url, token=installer.token)
    proof = original.sync_detailed(document_id, client=downloader)
    check(proof.status_code == 200 and hashlib.sha256(proof.content).hexdigest() == sha256, "original byte for byte")
    check(proof.headers.get("x-content-sha256") == sha256, "X-Content-SHA256")
    check(proof.headers.get("content-type") == "image/png", "the original is served as a PNG")

    print(
        json.dumps(
            {
                "walk": "python",
                "customer_id": customer.id,
                "customer_created": created,
                "order_id": str(order_id),
                "document_id": str(document_id),
                "key_number": key_number,
                "serials": serials,
                "state": final.order.state.value,
                "history": [t.event.value for t in final.history],
                "problems": ["stale_version", not_allowed.code],
            }
        )
    )


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(e, file=sys.stderr)
        sys.exit(1)
