//! Conversations (issue 14): people write to each other about a customer or
//! an order, with copies, and answer; the threads show on the order and in
//! the inbox, every look and write is audited, the mail carries no text, and
//! an assessor's answer stops the follow-up's escalation (seeds 003, 004).

use crate::helpers::TestApp;
use crate::on_both_backends;
use crate::steps::Session;
use serde_json::{json, Value};

on_both_backends!(
    seed003_avslut_the_alarm_team_asks_the_assessor_with_a_copy_to_the_coordinators,
    seed004_the_assessors_answer_to_the_follow_up_stops_the_escalation,
);

async fn inbox_of(s: &Session<'_>) -> Vec<Value> {
    let res = s.get("/api/v1/messages").await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body.as_array().unwrap().clone()
}

fn names(parties: &Value) -> Vec<String> {
    let mut n: Vec<String> = parties
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}:{}",
                p["kind"].as_str().unwrap(),
                p["name"].as_str().unwrap()
            )
        })
        .collect();
    n.sort();
    n
}

async fn put_mail(app: &TestApp, admin: &str, user_id: &str, body: Value) {
    let res = app
        .send(
            "PUT",
            &format!("/api/v1/users/{user_id}/mail"),
            Some(admin),
            &[("content-type", "application/json")],
            Some(body.to_string().into_bytes()),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.body);
}

/// The mails queued for an address: (subject, body).
async fn mails_to(app: &TestApp, address: &'static str) -> Vec<(String, String)> {
    app.db
        .run(move |c| {
            use diesel::prelude::*;
            use larmkoll::db::schema::outbox::dsl as o;
            Ok(o::outbox
                .filter(o::channel.eq("email").and(o::target.eq(address)))
                .select((o::subject, o::body))
                .load::<(String, String)>(c)?)
        })
        .await
        .unwrap()
}

async fn seed003_avslut_the_alarm_team_asks_the_assessor_with_a_copy_to_the_coordinators(
    app: TestApp,
) {
    let crew = app.crew().await;
    let admin = app.as_admin().await;
    let billing = app.as_billing().await;
    // A Boo customer of the alarm team's, with an ordinary assessor.
    let customer = crew
        .installer
        .boo_customer_where(|c| c["ordinary_assessor_id"].is_string())
        .await;
    let granted = crew
        .assessor
        .grant(
            &customer.id,
            json!({"service": "safety_alarm", "valid_from": chrono::Utc::now().date_naive().to_string()}),
        )
        .await;
    let order_id = granted.order.id.0.clone();
    let me = crew.assessor.get("/api/v1/auth/me").await;
    let assessor_id = me.body["id"].as_str().unwrap().to_string();
    put_mail(
        &app,
        &admin.token,
        &assessor_id,
        json!({"address": "hanna@kommun.test", "topics": ["conversation"]}),
    )
    .await;

    // Refusals first: they store nothing.
    let to_nobody = crew
        .installer
        .post(
            "/api/v1/messages",
            json!({"to": {}, "order_id": order_id, "subject": "Avslut", "body": "Fråga"}),
        )
        .await;
    assert_eq!(to_nobody.status, 422, "{}", to_nobody.body);
    assert_eq!(
        to_nobody.body["errors"][0]["field"], "to",
        "{}",
        to_nobody.body
    );
    assert!(to_nobody.body["errors"][0]["detail_sv"]
        .as_str()
        .unwrap()
        .contains("minst en"));
    let unknown = crew
        .installer
        .post(
            "/api/v1/messages",
            json!({"to": {"users": ["00000000-0000-4000-8000-000000000000"]}, "subject": "Hej", "body": "Hej"}),
        )
        .await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert_eq!(unknown.body["errors"][0]["field"], "to.users");
    let empty = crew
        .installer
        .post(
            "/api/v1/messages",
            json!({"to": {"ordinary_assessor": true}, "order_id": order_id, "subject": " ", "body": ""}),
        )
        .await;
    assert_eq!(empty.status, 422, "{}", empty.body);
    // A customer the writer cannot see is not found (and the attempt audited).
    let sickla = admin
        .customers()
        .await
        .into_iter()
        .find(|c| c["address"]["city"] != "Saltsjö-Boo")
        .expect("a Sickla customer");
    let hidden = crew
        .installer
        .post(
            "/api/v1/messages",
            json!({"to": {"roles": ["coordinator"]}, "customer_id": sickla.id.0, "subject": "Hej", "body": "Hej"}),
        )
        .await;
    assert_eq!(hidden.status, 404, "{}", hidden.body);
    assert_eq!(
        app.audit_count("message.write", "denied", &sickla.id.0)
            .await,
        1
    );
    assert!(inbox_of(&crew.assessor)
        .await
        .iter()
        .all(|m| m["topic"] != "conversation"));

    // Seed 003 "Avslut": the alarm team asks the assessor, copy to the coordinators.
    let question =
        "Larmet ska tas ned. Avslutas andra insatser också, och ska alla nycklar tillbaka?";
    let asked = crew
        .installer
        .post(
            "/api/v1/messages",
            json!({
                "to": {"ordinary_assessor": true},
                "copy": {"roles": ["coordinator"]},
                "order_id": order_id,
                "subject": "Avslut av larm",
                "body": question,
            }),
        )
        .await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    let thread = asked.body.clone();
    let thread_id = thread["id"].as_str().unwrap().to_string();
    assert_eq!(thread["customer_id"], customer.id.0.as_str());
    assert_eq!(thread["customer_number"], customer.number());
    assert_eq!(thread["posts"].as_array().unwrap().len(), 1);
    let post = &thread["posts"][0];
    assert_eq!(post["sender"]["name"], "Ivar Installatör");
    assert_eq!(names(&post["to"]), ["user:Hanna Handläggare"]);
    assert_eq!(names(&post["copy"]), ["role:Alla koordinatorer"]);

    // The assessor has it; the coordinator in copy; billing not at all.
    let to_assessor = inbox_of(&crew.assessor)
        .await
        .into_iter()
        .find(|m| m["thread_id"] == thread_id.as_str())
        .expect("in the assessor's inbox");
    assert_eq!(to_assessor["topic"], "conversation");
    assert_eq!(to_assessor["sender_name"], "Ivar Installatör");
    assert_eq!(to_assessor["copy"], false);
    assert_eq!(to_assessor["body"], question);
    assert_eq!(to_assessor["order_id"], order_id.as_str());
    let to_coordinator = inbox_of(&crew.coordinator)
        .await
        .into_iter()
        .find(|m| m["thread_id"] == thread_id.as_str())
        .expect("in the coordinator's inbox");
    assert_eq!(to_coordinator["copy"], true);
    assert!(inbox_of(&billing)
        .await
        .iter()
        .all(|m| m["thread_id"] != thread_id.as_str()));
    let outsider = billing
        .get(format!("/api/v1/messages/threads/{thread_id}"))
        .await;
    assert_eq!(outsider.status, 404, "{}", outsider.body);
    let outsider_reply = billing
        .post(
            &format!("/api/v1/messages/threads/{thread_id}/replies"),
            json!({"body": "Jag också"}),
        )
        .await;
    assert_eq!(outsider_reply.status, 404, "{}", outsider_reply.body);

    // The assessor answers everyone in it: the writer, the copy stays a copy.
    let answer = "Hemtjänsten avslutas också; alla nycklar ska tillbaka.";
    let replied = crew
        .assessor
        .post(
            &format!("/api/v1/messages/threads/{thread_id}/replies"),
            json!({ "body": answer }),
        )
        .await;
    assert_eq!(replied.status, 201, "{}", replied.body);
    let posts = replied.body["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[1]["subject"], "Sv: Avslut av larm");
    assert_eq!(posts[1]["sender"]["name"], "Hanna Handläggare");
    assert_eq!(names(&posts[1]["to"]), ["user:Ivar Installatör"]);
    assert_eq!(names(&posts[1]["copy"]), ["role:Alla koordinatorer"]);
    let back = inbox_of(&crew.installer)
        .await
        .into_iter()
        .find(|m| m["thread_id"] == thread_id.as_str())
        .expect("the answer reaches the writer");
    assert_eq!(back["body"], answer);
    assert_eq!(back["subject"], "Sv: Avslut av larm");

    // The thread shows on the order, for those in it.
    let on_order = crew
        .installer
        .get(format!("/api/v1/messages/threads?order_id={order_id}"))
        .await;
    assert_eq!(on_order.status, 200, "{}", on_order.body);
    // The alarm team was also told of the order (`ordered`): that notice is a thread of its own.
    let listed = on_order.body.as_array().unwrap();
    let ours = listed
        .iter()
        .find(|t| t["id"] == thread_id.as_str())
        .expect("the conversation is listed on the order");
    assert_eq!(ours["posts"].as_array().unwrap().len(), 2);
    assert!(listed.iter().all(|t| t["order_id"] == order_id.as_str()));
    let not_on_order = billing
        .get(format!("/api/v1/messages/threads?order_id={order_id}"))
        .await;
    assert_eq!(not_on_order.body.as_array().unwrap().len(), 0);

    // Audited like any other access to the customer.
    assert_eq!(
        app.audit_count("message.write", "ok", &customer.id.0).await,
        2
    );
    let reads_before = app.audit_count("message.read", "ok", &customer.id.0).await;
    let read = crew
        .coordinator
        .get(format!("/api/v1/messages/threads/{thread_id}"))
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(
        app.audit_count("message.read", "ok", &customer.id.0).await,
        reads_before + 1
    );

    // The mail says who wrote about which customer number, never the text.
    let mails = mails_to(&app, "hanna@kommun.test").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let (subject, body) = &mails[0];
    assert_eq!(
        subject,
        &format!(
            "Meddelande från Ivar Installatör om kund {}",
            customer.number()
        )
    );
    let name = customer["first_name"]
        .as_str()
        .expect("the list shows the first name")
        .to_string();
    for leak in [question, "Avslut av larm", name.as_str()] {
        assert!(
            !subject.contains(leak) && !body.contains(leak),
            "the mail carries {leak:?}: {subject} / {body}"
        );
    }
}

async fn seed004_the_assessors_answer_to_the_follow_up_stops_the_escalation(app: TestApp) {
    let assessor = app.as_assessor().await;
    // Two customers served by Boo home care, each with an ordinary assessor.
    let mut orders = Vec::new();
    for number in ["K-100001", "K-100002"] {
        let c = assessor.customer_numbered(number).await;
        let granted = assessor
            .grant(
                &c.id,
                json!({"service": "safety_alarm", "valid_from": "2026-01-15"}),
            )
            .await;
        orders.push(granted.order.id.0);
    }
    let ids = orders.clone();
    app.db
        .run(move |c| {
            use diesel::prelude::*;
            use larmkoll::db::schema::orders::dsl as o;
            let at = chrono::NaiveDateTime::parse_from_str("2026-01-15 09:00", "%Y-%m-%d %H:%M")
                .unwrap();
            Ok(diesel::update(o::orders.filter(o::id.eq_any(ids)))
                .set((o::received_at.eq(at), o::updated_at.eq(at)))
                .execute(c)?)
        })
        .await
        .unwrap();
    let fired = app.follow_up("2026-02-15");
    assert!(
        fired.iter().any(|f| f["rule"] == "not_executed"),
        "{fired:?}"
    );

    // The assessor answers the one-month notice about the first order.
    let notice = inbox_of(&assessor)
        .await
        .into_iter()
        .find(|m| m["topic"] == "not_executed" && m["order_id"] == orders[0].as_str())
        .expect("the one-month notice");
    let replied = assessor
        .post(
            &format!(
                "/api/v1/messages/threads/{}/replies",
                notice["thread_id"].as_str().unwrap()
            ),
            json!({"body": "Kunden är på korttidsboende till februari; installera efter hemkomst."}),
        )
        .await;
    assert_eq!(replied.status, 201, "{}", replied.body);
    // The notice went to the home-care group and the assessor as one post: the answer reaches the group.
    let posts = replied.body["posts"].as_array().unwrap();
    assert_eq!(
        posts[0]["sender"],
        Value::Null,
        "a notice from the routines"
    );
    assert_eq!(names(&posts[1]["to"]), ["group:Boo hemtjänst"]);

    // Fourteen days on: only the order nobody answered about escalates.
    let escalated: Vec<String> = app
        .follow_up("2026-03-01")
        .into_iter()
        .filter(|f| f["rule"] == "escalation")
        .map(|f| f["subject_id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(!escalated.is_empty(), "the unanswered order escalates");
    assert!(
        escalated.iter().all(|s| *s == orders[1]),
        "only the unanswered order escalates: {escalated:?} (answered {})",
        orders[0]
    );
}
