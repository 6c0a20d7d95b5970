//! The inbox: messages to the user, their groups and their role.

use super::json::Json;
use super::query::Query;
use crate::app;
use crate::app::validation::Problems;
use crate::auth::{Action, Actor};
use crate::domain::Role;
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::{get, post};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(inbox)
        .service(unread_count)
        .service(mark_read)
        .service(addressees)
        .service(start_conversation)
        .service(threads)
        .service(get_thread)
        .service(reply);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// ordered, installed, declined, returned_to_assessor, equipment_collected, cancelled,
    /// terminated, lock_mounted, lock_removed; from the follow-up: not_executed,
    /// keys_not_received, escalation, three_month_list; written by a person: conversation
    pub topic: String,
    /// The conversation it belongs to (`GET /messages/threads/{thread_id}`); a
    /// notice starts one, so it can be answered.
    pub thread_id: String,
    /// Who wrote it; null: Larmkoll's routines.
    pub sender_id: Option<String>,
    /// The writer's name; null: Larmkoll's routines.
    pub sender_name: Option<String>,
    /// You have it in copy (kopia).
    pub copy: bool,
    pub subject: String,
    pub body: String,
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
    /// Addressed to this group…
    pub recipient_group_id: Option<String>,
    /// …or this person…
    pub recipient_user_id: Option<String>,
    /// …or everyone with this role.
    pub recipient_role: Option<String>,
    /// When you read it.
    pub read_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    /// Only unread messages.
    #[serde(default)]
    pub unread: bool,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    pub unread: i64,
}

/// Your inbox, newest first: your own messages, your groups' and your role's.
#[utoipa::path(tag = "messages", security(("bearer" = [])),
    params(InboxQuery),
    responses((status = 200, description = "Messages", body = Vec<Message>)))]
#[get("/messages")]
pub async fn inbox(
    state: web::Data<AppState>,
    user: Actor,
    q: Query<InboxQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = super::pagination::limit(q.limit)?;
    let rows = app::messages::inbox(&state.db, &user, q.unread, limit).await?;
    let list: Vec<Message> = rows
        .into_iter()
        .map(|(m, read, sender_name)| Message {
            id: m.id,
            created_at: m.created_at.and_utc(),
            topic: m.topic,
            thread_id: m.thread_id,
            sender_id: m.sender_id,
            sender_name,
            copy: m.copy,
            subject: m.subject,
            body: m.body,
            customer_id: m.customer_id,
            order_id: m.order_id,
            recipient_group_id: m.recipient_group_id,
            recipient_user_id: m.recipient_user_id,
            recipient_role: m.recipient_role,
            read_at: read.map(|t| t.and_utc()),
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// How many messages you have not read.
#[utoipa::path(tag = "messages", security(("bearer" = [])),
    responses((status = 200, description = "Count", body = UnreadCount)))]
#[get("/messages/unread-count")]
pub async fn unread_count(
    state: web::Data<AppState>,
    user: Actor,
) -> Result<HttpResponse, AppError> {
    let n = app::messages::unread_count(&state.db, &user).await?;
    Ok(HttpResponse::Ok().json(UnreadCount { unread: n }))
}

/// Marks a message read, for you (idempotent).
#[utoipa::path(tag = "messages", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Message id")),
    responses(
        (status = 204, description = "Marked read"),
        (status = 404, description = "No such message in your inbox", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/messages/{id}/read")]
pub async fn mark_read(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    app::messages::mark_read(&state.db, &user, id.into_inner().to_string()).await?;
    Ok(HttpResponse::NoContent().finish())
}

// --- Conversations ----------------------------------------------------------

/// Persons, groups and roles to write to.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Addressees {
    /// Persons, by user id.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub users: Vec<Uuid>,
    /// Groups (e.g. the alarm team), by group id.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub groups: Vec<Uuid>,
    /// Everyone with the role, e.g. `coordinator` (the coordinators, day and night).
    #[serde(default)]
    #[schema(max_items = 7)]
    pub roles: Vec<Role>,
    /// The customer's ordinary assessor (the message must be about a customer who has one).
    #[serde(default)]
    pub ordinary_assessor: bool,
}

impl Addressees {
    fn into_app(self) -> app::messages::Addressees {
        app::messages::Addressees {
            users: self.users.iter().map(Uuid::to_string).collect(),
            groups: self.groups.iter().map(Uuid::to_string).collect(),
            roles: self.roles,
            ordinary_assessor: self.ordinary_assessor,
        }
    }

    fn len(&self) -> usize {
        self.users.len() + self.groups.len() + self.roles.len()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "to": {"ordinary_assessor": true},
    "copy": {"roles": ["coordinator"]},
    "order_id": "7b0c6f43-5a0e-4c47-9a55-2f1f8c1a9d10",
    "subject": "Avslut av larm",
    "body": "Larmet ska tas ned. Avslutas andra insatser också, och ska alla nycklar tillbaka?"
}))]
pub struct NewConversation {
    /// Whom you write to: at least one person, group, role or the ordinary assessor.
    pub to: Addressees,
    /// Whom you send a copy (kopia).
    #[serde(default)]
    pub copy: Addressees,
    /// The customer it is about (you must be able to see them).
    pub customer_id: Option<Uuid>,
    /// The order it is about; its customer is the message's customer.
    pub order_id: Option<Uuid>,
    /// 1–200 characters, not only blanks.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub subject: String,
    /// 1–5000 characters, not only blanks.
    #[schema(
        min_length = 1,
        max_length = 5000,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub body: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "Hemtjänsten avslutas också; alla nycklar ska tillbaka."}))]
pub struct Reply {
    /// 1–5000 characters, not only blanks.
    #[schema(
        min_length = 1,
        max_length = 5000,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub body: String,
}

/// A person, group or role in a conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Party {
    /// user, group or role
    pub kind: String,
    /// The user's or group's id, or the role's code.
    pub id: String,
    /// The name people know it by (Swedish).
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Post {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// null: a notice from Larmkoll's routines.
    pub sender: Option<Party>,
    /// conversation, or the topic of the notice that started the thread.
    pub topic: String,
    pub subject: String,
    pub body: String,
    pub to: Vec<Party>,
    pub copy: Vec<Party>,
}

/// A conversation: a notice or a person's first post, and every answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Thread {
    pub id: String,
    pub customer_id: Option<String>,
    pub customer_number: Option<String>,
    pub order_id: Option<String>,
    /// Oldest first.
    pub posts: Vec<Post>,
}

fn party(n: app::messages::Named) -> Party {
    Party {
        kind: n.kind.to_string(),
        id: n.id,
        name: n.name,
    }
}

fn thread_dto(t: app::messages::Thread) -> Thread {
    Thread {
        id: t.id,
        customer_id: t.customer_id,
        customer_number: t.customer_number,
        order_id: t.order_id,
        posts: t
            .posts
            .into_iter()
            .map(|p| Post {
                id: p.id,
                created_at: p.created_at.and_utc(),
                sender: p.sender.map(party),
                topic: p.topic,
                subject: p.subject,
                body: p.body,
                to: p.to.into_iter().map(party).collect(),
                copy: p.copy.into_iter().map(party).collect(),
            })
            .collect(),
    }
}

/// Persons and groups you can write to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Directory {
    /// Active users: id, name and role.
    pub users: Vec<DirectoryUser>,
    /// Every group, with its area.
    pub groups: Vec<DirectoryGroup>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryUser {
    pub id: String,
    pub display_name: String,
    pub role: Role,
    /// The role in Swedish.
    pub role_sv: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryGroup {
    pub id: String,
    pub name: String,
    pub area_id: String,
}

/// Whom you can write to: every active user (name and role) and every group.
#[utoipa::path(tag = "messages", security(("bearer" = [])),
    responses((status = 200, description = "Persons and groups", body = Directory)))]
#[get("/messages/addressees")]
pub async fn addressees(
    state: web::Data<AppState>,
    _user: Actor,
) -> Result<HttpResponse, AppError> {
    let (users, groups) = app::messages::directory(&state.db).await?;
    Ok(HttpResponse::Ok().json(Directory {
        users: users
            .into_iter()
            .map(|u| DirectoryUser {
                id: u.id,
                display_name: u.display_name,
                role: u.role,
                role_sv: u.role.sv().to_string(),
            })
            .collect(),
        groups: groups
            .into_iter()
            .map(|g| DirectoryGroup {
                id: g.id,
                name: g.name,
                area_id: g.area_id,
            })
            .collect(),
    }))
}

/// Writes to persons, groups or roles, optionally about a customer or an
/// order you can see (seed 003 "Avslut": the alarm team asks the assessor,
/// with a copy to the coordinators). Each addressee finds it in their inbox
/// and, as they chose, by mail — the mail names the writer and the customer
/// number and links here; the text stays in Larmkoll.
#[utoipa::path(tag = "messages", security(("bearer" = [])),
    request_body = NewConversation,
    responses(
        (status = 201, description = "The new thread", body = Thread),
        (status = 404, description = "No such customer you can see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No addressee, an unknown one, or an empty or too long text", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/messages")]
pub async fn start_conversation(
    state: web::Data<AppState>,
    user: Actor,
    body: Json<NewConversation>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::Converse, "write messages", "skriva meddelanden")?;
    let body = body.into_inner();
    let mut p = Problems::default();
    let subject = p.text("subject", &body.subject, 200);
    let text = p.text("body", &body.body, 5000);
    if body.to.len() + body.copy.len() > 100 {
        p.add(
            "to",
            "too_many",
            "at most 100 addressees",
            "högst 100 mottagare",
        );
    }
    p.finish()?;
    let thread = app::messages::start_conversation(
        &state.db,
        user,
        app::messages::NewConversation {
            to: body.to.into_app(),
            copy: body.copy.into_app(),
            customer_id: body.customer_id.map(|u| u.to_string()),
            order_id: body.order_id.map(|u| u.to_string()),
            subject,
            body: text,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(thread_dto(thread)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ThreadsQuery {
    /// The order the threads are about.
    pub order_id: Uuid,
}

/// The conversations about an order that you take part in, newest first.
#[utoipa::path(tag = "messages", security(("bearer" = [])),
    params(ThreadsQuery),
    responses((status = 200, description = "Threads", body = Vec<Thread>)))]
#[get("/messages/threads")]
pub async fn threads(
    state: web::Data<AppState>,
    user: Actor,
    q: Query<ThreadsQuery>,
) -> Result<HttpResponse, AppError> {
    let list = app::messages::threads_about_order(&state.db, user, q.order_id.to_string()).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(thread_dto).collect::<Vec<_>>()))
}

/// A conversation you take part in (you wrote in it or it is addressed to
/// you, your group or your role).
#[utoipa::path(tag = "messages", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Thread id (a message's thread_id)")),
    responses(
        (status = 200, description = "The thread", body = Thread),
        (status = 404, description = "No such thread you take part in", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/messages/threads/{id}")]
pub async fn get_thread(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let t = app::messages::thread(&state.db, user, id.into_inner().to_string()).await?;
    Ok(HttpResponse::Ok().json(thread_dto(t)))
}

/// Answers a conversation you take part in: to everyone in it but you, copies
/// staying copies. An assessor's answer about an order stops the follow-up's
/// escalation to the alarm leads.
#[utoipa::path(tag = "messages", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Thread id")),
    request_body = Reply,
    responses(
        (status = 201, description = "The thread with the answer", body = Thread),
        (status = 404, description = "No such thread you take part in", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An empty or too long text", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/messages/threads/{id}/replies")]
pub async fn reply(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<Reply>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::Converse, "answer messages", "svara på meddelanden")?;
    let mut p = Problems::default();
    let text = p.text("body", &body.body, 5000);
    p.finish()?;
    let t = app::messages::reply(&state.db, user, id.into_inner().to_string(), text).await?;
    Ok(HttpResponse::Created().json(thread_dto(t)))
}
