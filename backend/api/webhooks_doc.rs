//! The OpenAPI 3.1 `webhooks` section: the events Larmkoll POSTs to an
//! admin's subscriptions (`POST /api/v1/webhooks`), so that integrators
//! generate their receivers from the same document as their clients. utoipa 5
//! has no type for the section, so it is written here, from one table, and
//! added to the document as it is served and committed.

use serde_json::{json, Map, Value};

/// A field of an event's `data`: name, JSON type (`"string"`, `"boolean"`),
/// format (`"uuid"`, `"date"`, or empty), whether it may be null, and its meaning.
type Field = (&'static str, &'static str, &'static str, bool, &'static str);

const ORDER: Field = (
    "order_id",
    "string",
    "uuid",
    true,
    "The order it belongs to, if any",
);
const SERVICE: Field = (
    "service",
    "string",
    "",
    false,
    "`safety_alarm` or `digital_lock`",
);

/// Every event: its type, what happened, and the fields of its `data` besides
/// `customer_number`, which every event about a customer carries.
const EVENTS: &[(&str, &str, &[Field])] = &[
    (
        "order.transitioned",
        "An order moved in its lifecycle (every transition; `GET /api/v1/lifecycle` names them).",
        &[
            ("order_id", "string", "uuid", false, "The order"),
            ("transition_id", "string", "uuid", false, "The transition, as in the order's history"),
            ("event", "string", "", false, "The lifecycle event, e.g. `install`"),
            ("from_state", "string", "", false, "The state before"),
            ("to_state", "string", "", false, "The state after"),
        ],
    ),
    (
        "decision.granted",
        "An assessor granted a service (a new decision).",
        &[
            ("decision_id", "string", "uuid", false, "The decision"),
            SERVICE,
            ("valid_from", "string", "date", false, "First day"),
            ("valid_to", "string", "date", true, "Last day; null: until further notice"),
            ("follows_id", "string", "uuid", true, "Always null for a grant"),
        ],
    ),
    (
        "decision.extended",
        "An assessor extended a decision (a new decision following one).",
        &[
            ("decision_id", "string", "uuid", false, "The new decision"),
            SERVICE,
            ("valid_from", "string", "date", false, "First day"),
            ("valid_to", "string", "date", true, "Last day; null: until further notice"),
            ("follows_id", "string", "uuid", true, "The decision it extends"),
        ],
    ),
    (
        "decision.ended",
        "An assessor ended a decision; the uninstall follows.",
        &[
            ("decision_id", "string", "uuid", false, "The decision"),
            SERVICE,
            ("end_date", "string", "date", false, "Its last day"),
        ],
    ),
    (
        "execution.started",
        "A coordinator executed an order: the service runs from `start_date`.",
        &[
            ("execution_id", "string", "uuid", false, "The execution"),
            ORDER,
            SERVICE,
            ("kind", "string", "", false, "The execution's kind"),
            ("start_date", "string", "date", false, "First day"),
        ],
    ),
    (
        "execution.ended",
        "An execution ended on `end_date`.",
        &[
            ("execution_id", "string", "uuid", false, "The execution"),
            ("end_date", "string", "date", false, "Last day"),
        ],
    ),
    (
        "billing.start",
        "Billing starts for a service.",
        &[
            ("billing_event_id", "string", "uuid", false, "The billing event"),
            ("execution_id", "string", "uuid", false, "The execution"),
            SERVICE,
            ("date", "string", "date", false, "The day billing starts"),
            ("own_invoice_line", "boolean", "", false, "Billed on a line of its own"),
        ],
    ),
    (
        "billing.stop",
        "Billing stops for a service.",
        &[
            ("billing_event_id", "string", "uuid", false, "The billing event"),
            ("execution_id", "string", "uuid", false, "The execution"),
            SERVICE,
            ("date", "string", "date", false, "The day billing stops"),
            ("own_invoice_line", "boolean", "", false, "Billed on a line of its own"),
        ],
    ),
    (
        "equipment.moved",
        "An item of equipment changed hands or place (installed, collected, missing, in stock…).",
        &[
            ("item_id", "string", "uuid", false, "The item"),
            ("move_id", "string", "uuid", false, "The move, as in the item's history"),
            ("from_state", "string", "", false, "Where it was"),
            ("to_state", "string", "", false, "Where it is"),
            ORDER,
        ],
    ),
    (
        "key.moved",
        "A customer's key was received, signed out or in, returned or lost. Never its cabinet or hook.",
        &[
            ("key_id", "string", "uuid", false, "The key"),
            ("move_id", "string", "uuid", false, "The move, as in the key's history"),
            ("move", "string", "", false, "What happened to it"),
            ORDER,
        ],
    ),
    (
        "document.stored",
        "A photographed paper was stored as proof.",
        &[
            ("document_id", "string", "uuid", false, "The document"),
            ("kind", "string", "", false, "Its kind"),
            ORDER,
        ],
    ),
    (
        "message.created",
        "A routine told someone something (the inbox); mails go out for it too.",
        &[
            ("message_id", "string", "uuid", false, "The message"),
            ("topic", "string", "", false, "Its topic, as in the `[messages]` settings"),
            ORDER,
            ("recipient_group_id", "string", "uuid", true, "The group addressed, if any"),
            ("recipient_user_id", "string", "uuid", true, "The user addressed, if any"),
            ("recipient_role", "string", "", true, "The role addressed, if any"),
        ],
    ),
];

fn field_schema((_, kind, format, nullable, meaning): &Field) -> Value {
    let mut schema = Map::new();
    schema.insert(
        "type".into(),
        if *nullable {
            json!([kind, "null"])
        } else {
            json!(kind)
        },
    );
    if !format.is_empty() {
        schema.insert("format".into(), json!(format));
    }
    schema.insert("description".into(), json!(meaning));
    Value::Object(schema)
}

fn header(name: &str, meaning: &str) -> Value {
    json!({"name": name, "in": "header", "required": true, "description": meaning, "schema": {"type": "string"}})
}

/// The section: one POST per event type.
pub fn section() -> Value {
    let mut hooks = Map::new();
    for (event, meaning, fields) in EVENTS {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for f in fields.iter() {
            properties.insert(f.0.into(), field_schema(f));
            required.push(f.0);
        }
        properties.insert(
            "customer_number".into(),
            json!({"type": "string", "description": "The customer's number (kundnummer), when the event is about a customer: the one thing integrations match on, never personal data"}),
        );
        let name: String = event
            .split(['.', '_'])
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect::<String>())
                    .unwrap_or_default()
            })
            .collect();
        hooks.insert(
            event.to_string(),
            json!({
                "post": {
                    "tags": ["webhooks"],
                    "operationId": format!("webhook{name}"),
                    "summary": format!("`{event}`: {meaning}"),
                    "description": "Sent to every subscription whose `event_types` name this type (or `*`), from the outbox, with exponential backoff for 25 hours. Verify the signature before trusting the body: `webhook-signature` is `v1,` + base64 of HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the base64-decoded part of the secret after `whsec_` (Standard Webhooks). A delivery may come twice after a crash: the same `webhook-id` means the same event.",
                    "parameters": [
                        header("webhook-id", "The delivery's id (the outbox row): the same on every retry"),
                        header("webhook-timestamp", "Seconds since the epoch when it was signed"),
                        header("webhook-signature", "`v1,<base64 signature>`"),
                    ],
                    "requestBody": {
                        "required": true,
                        "content": {"application/json": {"schema": {
                            "type": "object",
                            "required": ["type", "timestamp", "data"],
                            "properties": {
                                "type": {"const": event, "description": "The event type"},
                                "timestamp": {"type": "string", "format": "date-time", "description": "When it happened"},
                                "data": {
                                    "type": "object",
                                    "required": required,
                                    "properties": properties,
                                },
                            },
                        }}},
                    },
                    "responses": {
                        "200": {"description": "Received: any 2xx. Anything else, a redirect or no answer within the timeout is retried"},
                    },
                }
            }),
        );
    }
    Value::Object(hooks)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_event_type_the_outbox_queues_is_documented() {
        // The event types named where events are queued, read from the source.
        let mut code = String::new();
        for file in [
            "app/decisions.rs",
            "app/notify.rs",
            "db/custody.rs",
            "db/lifecycle.rs",
            "db/documents.rs",
        ] {
            code += &std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("backend")
                    .join(file),
            )
            .unwrap();
        }
        let section = super::section();
        for (event, _, _) in super::EVENTS {
            // Billing's two are queued as `billing.{kind}`.
            let queued = code.contains(&format!("\"{event}\""))
                || (event.starts_with("billing.") && code.contains("\"billing.{}\""));
            assert!(queued, "{event} is never queued");
        }
        // The second argument of each `outbox::event(` is the type it queues:
        // a literal, or a name whose values are literals checked above.
        for call in code.split("outbox::event(").skip(1) {
            let second = call.split(',').nth(1).expect("an event type").trim();
            if let Some(literal) = second.strip_prefix('"') {
                let queued = literal.split('"').next().expect("closed");
                assert!(
                    section.get(queued).is_some(),
                    "{queued} is queued but not documented"
                );
            }
        }
    }
}
