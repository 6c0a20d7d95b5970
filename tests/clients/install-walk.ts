// An integrator's day one in TypeScript: types generated from the committed
// openapi/openapi.json with openapi-typescript, calls through openapi-fetch,
// the install routine from the assessor's decision to the coordinator's
// execution. tests/api/clients.rs generates schema.d.ts next to this file,
// type-checks it with tsc (strict) and runs it with node:
//
//   node install-walk.js BASE_URL PHOTO.png PERSONNUMMER
//
// It prints one JSON line with what it did; any deviation throws (exit 1).

import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema.js";
import { createHash, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";

type Api = Client<paths>;
type Schemas = components["schemas"];
type Problem = Schemas["Problem"];

function argument(n: number): string {
  const value = process.argv[2 + n];
  if (!value) throw new Error("usage: node install-walk.js BASE_URL PHOTO.png PERSONNUMMER");
  return value;
}
const baseUrl = argument(0);
const photoPath = argument(1);
const personnummer = argument(2);

function check(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`check failed: ${what}`);
}

/** The data of a successful call, or an error saying what came back instead. */
function ok<D>(
  what: string,
  result: { data?: D; error?: unknown; response: Response },
  status = 200,
): D {
  const { data, error, response } = result;
  if (response.status !== status || data === undefined) {
    throw new Error(
      `${what}: expected ${status}, got ${response.status} ${JSON.stringify(error)}`,
    );
  }
  return data;
}

/** The refusal of a call, typed as the spec's Problem and sent as problem+json. */
function refused(
  what: string,
  result: { data?: unknown; error?: Problem; response: Response },
  status: number,
  code: string,
): Problem {
  const { error, response } = result;
  check(response.status === status, `${what}: status ${response.status}, expected ${status}`);
  check(
    response.headers.get("content-type") === "application/problem+json",
    `${what}: content type ${response.headers.get("content-type")}`,
  );
  check(error !== undefined, `${what}: no problem body`);
  check(error.code === code, `${what}: code ${error.code}, expected ${code}`);
  check(error.status === status, `${what}: problem status ${error.status}`);
  check(error.type === `urn:larmkoll:problem:${code}`, `${what}: type ${error.type}`);
  check(error.detail.length > 0 && error.detail_sv.length > 0, `${what}: detail and detail_sv`);
  return error;
}

function etagOf(what: string, response: Response): string {
  const etag = response.headers.get("ETag");
  check(etag !== null && /^"\d+"$/.test(etag), `${what}: ETag ${etag}`);
  return etag;
}

function daysAgo(n: number): string {
  return new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
}

async function login(username: string): Promise<Api> {
  const anonymous = createClient<paths>({ baseUrl });
  const tokens = ok(
    `login ${username}`,
    await anonymous.POST("/api/v1/auth/login", { body: { username, password: "demo" } }),
  );
  check(tokens.token_type === "Bearer", "token type");
  return createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${tokens.access_token}` },
  });
}

/** The first in-stock item of a kind, as the installer takes it from the shelf. */
async function fromStock(api: Api, kind: Schemas["EquipmentKind"], prefix: string): Promise<string> {
  const items = ok(
    `stock of ${kind}`,
    await api.GET("/api/v1/equipment/items", {
      params: { query: { state: "in_stock", kind, limit: 1000 } },
    }),
  );
  const item = items.find((i) => i.serial.startsWith(prefix));
  check(item !== undefined, `a ${kind} ${prefix}… in stock`);
  return item.serial;
}

async function main(): Promise<void> {
  const day = daysAgo(1);
  const assessor = await login("handlaggare");
  const installer = await login("installator");
  const coordinator = await login("koordinator");

  // Find or create the customer, in Boo, served by Boo's groups.
  const areas = ok("areas", await assessor.GET("/api/v1/areas"));
  const boo = areas.find((a) => a.name === "Boo");
  check(boo !== undefined, "area Boo");
  const groups = ok("groups", await assessor.GET("/api/v1/groups"));
  const serving = groups
    .filter((g) => g.area_id === boo.id && g.kind !== "reception_team")
    .map((g) => g.id);
  check(serving.length === 3, `Boo's home care, alarm team and night patrol: ${serving.length}`);
  const found = ok(
    "customer search",
    await assessor.GET("/api/v1/customers", { params: { query: { q: personnummer } } }),
  );
  let customer = found.items[0];
  let created = false;
  if (customer === undefined) {
    customer = ok(
      "create customer",
      await assessor.POST("/api/v1/customers", {
        params: { header: { "Idempotency-Key": randomUUID() } },
        body: {
          personnummer,
          first_name: "Tyra",
          last_name: "Typsson",
          address: { street: "Kanalvägen 4", postal_code: "132 30", city: "Saltsjö-Boo" },
          area_id: boo.id,
          group_ids: serving,
          phone: null,
          entry_notes: "Portkod 1234.",
        },
      }),
      201,
    );
    created = true;
  }
  check(customer.personnummer.endsWith("-XXXX"), "personnummer masked");

  // The assessor grants a safety alarm: the decision and its install order.
  const granted = ok(
    "grant",
    await assessor.POST("/api/v1/customers/{id}/decisions", {
      params: { path: { id: customer.id }, header: { "Idempotency-Key": randomUUID() } },
      body: { service: "safety_alarm", valid_from: day, valid_to: null },
    }),
    201,
  );
  check(granted.order.kind === "install" && granted.order.state === "received", "install order received");
  const orderId = granted.order.id;

  // The installer reads the order and books the visit with its ETag.
  const read = await installer.GET("/api/v1/orders/{id}", { params: { path: { id: orderId } } });
  ok("installer reads the order", read);
  let etag = etagOf("read", read.response);
  check(etag === `"${granted.order.version}"`, "ETag is the version");
  const booked = await installer.POST("/api/v1/orders/{id}/book", {
    params: { path: { id: orderId }, header: { "If-Match": etag, "Idempotency-Key": randomUUID() } },
    body: { visit_date: day, visit_time: "09:30" },
  });
  check(ok("book", booked).order.state === "booked", "booked");
  const staleEtag = etag;
  etag = etagOf("book", booked.response);

  // A write based on what was read before the booking is refused.
  refused(
    "book with a stale If-Match",
    await installer.POST("/api/v1/orders/{id}/book", {
      params: { path: { id: orderId }, header: { "If-Match": staleEtag } },
      body: { visit_date: day },
    }),
    412,
    "stale_version",
  );

  // The signed nyckelkvittens, photographed: PUT under an id the phone chose.
  const photo = await readFile(photoPath);
  const documentId = randomUUID();
  const upload = {
    params: {
      path: { id: documentId },
      query: {
        kind: "key_receipt" as const,
        customer_id: customer.id,
        order_id: orderId,
        signed_by: "Tyra Typsson",
        signed_at: day,
      },
    },
    // The spec says binary text (minLength 1); the walk sends the raw bytes.
    body: photo as unknown as string,
    bodySerializer: (bytes: unknown) => bytes,
    headers: { "Content-Type": "image/png" },
  };
  const stored = ok("upload", await installer.PUT("/api/v1/documents/{id}", upload), 201);
  const sha256 = createHash("sha256").update(photo).digest("hex");
  check(stored.sha256 === sha256, "stored under the photo's SHA-256");
  check(stored.content_type === "image/png" && stored.kind === "key_receipt", "a PNG key receipt");
  const resent = ok("upload again", await installer.PUT("/api/v1/documents/{id}", upload), 200);
  check(resent.id === stored.id && resent.created_at === stored.created_at, "a resend is no duplicate");

  // Keys received against the receipt, then the installation with serials from stock.
  const keyNumber = `TS-${randomUUID().slice(0, 8)}`;
  const keys = await installer.POST("/api/v1/orders/{id}/receive-keys", {
    params: { path: { id: orderId }, header: { "If-Match": etag, "Idempotency-Key": randomUUID() } },
    body: {
      key_numbers: [keyNumber],
      count: 2,
      cabinet: "Skåp 1",
      hook: "5",
      receipt_document_id: documentId,
    },
  });
  check(ok("receive keys", keys).order.state === "keys_received", "keys received");
  etag = etagOf("receive keys", keys.response);
  const serials = [
    await fromStock(installer, "alarm_unit", "TX-10"),
    await fromStock(installer, "alarm_button", "WB-20"),
  ];
  const installed = await installer.POST("/api/v1/orders/{id}/install", {
    params: { path: { id: orderId }, header: { "If-Match": etag, "Idempotency-Key": randomUUID() } },
    body: { installation_date: day, serials },
  });
  const afterInstall = ok("install", installed).order;
  check(afterInstall.state === "installed" && afterInstall.installation_date === day, "installed on the day");
  etag = etagOf("install", installed.response);

  // An event the state does not allow: 409 problem+json naming what is allowed.
  const notAllowed = refused(
    "book an installed order",
    await installer.POST("/api/v1/orders/{id}/book", {
      params: { path: { id: orderId }, header: { "If-Match": etag } },
      body: { visit_date: day },
    }),
    409,
    "invalid_transition",
  );
  check(notAllowed.detail.includes("execute"), `the refusal names execute: ${notAllowed.detail}`);

  // The coordinator executes; a retry with the same Idempotency-Key replays.
  const idempotencyKey = randomUUID();
  const execute = () =>
    coordinator.POST("/api/v1/orders/{id}/execute", {
      params: { path: { id: orderId }, header: { "If-Match": etag, "Idempotency-Key": idempotencyKey } },
      body: {},
    });
  const first = await execute();
  const executed = ok("execute", first);
  check(executed.order.state === "executed", "executed");
  const retry = await execute();
  const replayed = ok("execute again", retry);
  check(retry.response.headers.get("Idempotent-Replayed") === "true", "the retry is a replay");
  check(replayed.order.version === executed.order.version, "executed once");
  check(
    etagOf("execute again", retry.response) === etagOf("execute", first.response),
    "the replay carries the first answer's ETag",
  );

  // Read back: state, history, and the receipt's original bytes.
  const final = ok("read back", await coordinator.GET("/api/v1/orders/{id}", { params: { path: { id: orderId } } }));
  const steps = final.history.map((t) => `${t.from}>${t.to}`);
  const expected = ["received>booked", "booked>keys_received", "keys_received>installed", "installed>executed"];
  check(JSON.stringify(steps) === JSON.stringify(expected), `history ${steps.join(", ")}`);
  check(final.order.state === "executed" && final.order.installation_date === day, "executed from the installation date");
  check(JSON.stringify([...final.order.serials].sort()) === JSON.stringify([...serials].sort()), "serials");
  const original = await installer.GET("/api/v1/documents/{id}/original", {
    params: { path: { id: documentId } },
    parseAs: "arrayBuffer",
  });
  const bytes = Buffer.from(ok("original", original));
  check(createHash("sha256").update(bytes).digest("hex") === sha256, "the original is byte for byte");
  check(original.response.headers.get("X-Content-SHA256") === sha256, "X-Content-SHA256");

  console.log(
    JSON.stringify({
      walk: "typescript",
      customer_id: customer.id,
      customer_created: created,
      order_id: orderId,
      document_id: documentId,
      key_number: keyNumber,
      serials,
      state: final.order.state,
      history: final.history.map((t) => t.event),
      problems: ["stale_version", notAllowed.code],
    }),
  );
}

// Never called: lines the generated types must refuse. If the spec stopped
// requiring a header or a field, tsc fails on the unused @ts-expect-error.
export async function refusedByTheTypes(api: Api): Promise<void> {
  const id = randomUUID();
  // @ts-expect-error a transition needs If-Match
  await api.POST("/api/v1/orders/{id}/book", { params: { path: { id } }, body: { visit_date: "2026-01-01" } });
  await api.POST("/api/v1/orders/{id}/book", {
    params: { path: { id }, header: { "If-Match": '"1"' } },
    // @ts-expect-error visit_date is required
    body: { visit_time: "09:30" },
  });
  await api.POST("/api/v1/customers/{id}/decisions", {
    params: { path: { id } },
    // @ts-expect-error no such service
    body: { service: "teleport", valid_from: "2026-01-01" },
  });
  await api.POST("/api/v1/orders/{id}/install", {
    params: { path: { id }, header: { "If-Match": '"1"' } },
    // @ts-expect-error serials are a list
    body: { installation_date: "2026-01-01", serials: "TX-1001" },
  });
  // @ts-expect-error no such state
  const state: Schemas["OrderState"] = "done";
  void state;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
