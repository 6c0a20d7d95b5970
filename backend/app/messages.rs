//! The inbox: what the routines told the actor, their groups and their role.

use crate::app::validation::{unknown_reference, Problems};
use crate::db::{self, audit, messages, org, users, Db, DbConn};
use crate::domain::messages::Text;
use crate::domain::{Actor, Role};
use crate::error::{AppError, ErrorCode};

/// The one the inbox is read for: the person, their groups, their role.
struct Addressee {
    user_id: String,
    role: String,
    group_ids: Vec<String>,
}

impl Addressee {
    fn of(user: &Actor) -> Self {
        Addressee {
            user_id: user.id.clone(),
            role: user.role.as_str().to_string(),
            group_ids: user.groups.iter().map(|g| g.group_id.clone()).collect(),
        }
    }

    fn as_query(&self) -> messages::Addressee<'_> {
        messages::Addressee {
            user_id: &self.user_id,
            role: &self.role,
            group_ids: &self.group_ids,
        }
    }
}

/// The actor's messages, newest first, each with when they read it and the
/// name of the person who wrote it (None: the routines).
pub async fn inbox(
    db: &Db,
    user: &Actor,
    unread_only: bool,
    limit: i64,
) -> Result<
    Vec<(
        messages::MessageRow,
        Option<chrono::NaiveDateTime>,
        Option<String>,
    )>,
    AppError,
> {
    let to = Addressee::of(user);
    db.run(move |conn| {
        let rows = messages::inbox(conn, &to.as_query(), unread_only, limit)?;
        let mut names = Names::default();
        rows.into_iter()
            .map(|(m, read)| {
                let sender = match &m.sender_id {
                    Some(s) => Some(names.user(conn, s)?.name),
                    None => None,
                };
                Ok((m, read, sender))
            })
            .collect()
    })
    .await
}

/// Whom one can write to: the active users and every group.
pub async fn directory(db: &Db) -> Result<(Vec<users::UserRow>, Vec<org::GroupRow>), AppError> {
    db.run(|conn| {
        let people = users::list(conn)?
            .into_iter()
            .filter(|u| u.active)
            .collect();
        Ok((people, org::list_groups(conn, None)?))
    })
    .await
}

/// How many of the actor's messages they have not read.
pub async fn unread_count(db: &Db, user: &Actor) -> Result<i64, AppError> {
    let to = Addressee::of(user);
    db.run(move |conn| Ok(messages::unread_count(conn, &to.as_query())?))
        .await
}

/// Marks one of the actor's messages read (again: no change); another's is
/// answered as not found.
pub async fn mark_read(db: &Db, user: &Actor, id: String) -> Result<(), AppError> {
    let to = Addressee::of(user);
    db.transaction(move |conn| match messages::find(conn, &id)? {
        Some(m) if messages::is_addressed_to(&m, &to.as_query()) => {
            Ok(messages::mark_read(conn, &id, &to.user_id, db::now())?)
        }
        _ => Err(AppError::not_found(
            ErrorCode::MessageNotFound,
            "message",
            "meddelande",
        )),
    })
    .await
}

// --- Conversations: person to person, about a customer or an order ---------

pub use crate::domain::messages::CONVERSATION;

/// Whom a post is for: persons, groups, everyone with a role, and the
/// customer's ordinary assessor.
#[derive(Debug, Default, Clone)]
pub struct Addressees {
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub roles: Vec<Role>,
    pub ordinary_assessor: bool,
}

/// A new conversation, already checked for form (lengths, characters).
pub struct NewConversation {
    pub to: Addressees,
    pub copy: Addressees,
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
    pub subject: String,
    pub body: String,
}

/// A person, group or role, with the name people know it by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Named {
    /// `user`, `group` or `role`.
    pub kind: &'static str,
    pub id: String,
    pub name: String,
}

/// One post of a thread: who wrote it (None: Larmkoll's routines), to whom.
#[derive(Debug, Clone)]
pub struct Post {
    pub id: String,
    pub created_at: chrono::NaiveDateTime,
    pub sender: Option<Named>,
    pub topic: String,
    pub subject: String,
    pub body: String,
    pub to: Vec<Named>,
    pub copy: Vec<Named>,
}

/// A conversation: a notice or a person's first post, and every answer.
#[derive(Debug, Clone)]
pub struct Thread {
    pub id: String,
    pub customer_id: Option<String>,
    pub customer_number: Option<String>,
    pub order_id: Option<String>,
    pub posts: Vec<Post>,
}

fn thread_not_found() -> AppError {
    AppError::not_found(ErrorCode::MessageNotFound, "message", "meddelande")
}

/// One addressee row to write: (group, user, role, copy).
type Target = (Option<String>, Option<String>, Option<String>, bool);

/// Writes to persons, groups or roles about a customer the writer may see
/// (or an order of one, or nothing in particular). Each addressee gets the
/// message in their inbox and, as they chose, by mail (the mail says who
/// wrote about which customer number, never the text).
pub async fn start_conversation(
    db: &Db,
    user: Actor,
    new: NewConversation,
) -> Result<Thread, AppError> {
    db.transaction(move |conn| {
        let mut customer_id = new.customer_id.clone();
        if let Some(order_id) = &new.order_id {
            let order = db::lifecycle::find_order(conn, order_id)?
                .ok_or_else(|| unknown_reference("order_id", "order", "beställningen"))?;
            if customer_id
                .as_ref()
                .is_some_and(|c| *c != order.customer_id)
            {
                let mut p = Problems::default();
                p.add(
                    "customer_id",
                    "mismatch",
                    "is not the order's customer; leave it out or send the order's",
                    "är inte beställningens brukare; utelämna det eller ange beställningens",
                );
                return Err(p.finish().unwrap_err());
            }
            customer_id = Some(order.customer_id);
        }
        let customer = match &customer_id {
            Some(id) => Some(super::customers::load_visible(conn, &user, id, "message.write")?.0),
            None => None,
        };
        let ordinary = customer
            .as_ref()
            .and_then(|c| c.ordinary_assessor_id.clone());
        let mut p = Problems::default();
        let mut targets: Vec<Target> = Vec::new();
        for (field, list, copy) in [("to", &new.to, false), ("copy", &new.copy, true)] {
            resolve(
                conn,
                &mut p,
                field,
                list,
                ordinary.as_deref(),
                copy,
                &mut targets,
            )?;
        }
        if !targets.iter().any(|t| !t.3) {
            p.add(
                "to",
                "required",
                "name at least one person, group or role to write to",
                "ange minst en person, grupp eller roll att skriva till",
            );
        }
        p.finish()?;
        let post_id = db::new_id();
        write_post(
            conn,
            &user,
            &post_id,
            None,
            customer_id.as_deref(),
            new.order_id.as_deref(),
            &Text {
                subject: new.subject.clone(),
                body: new.body.clone(),
            },
            &targets,
        )?;
        load_thread(conn, &post_id)
    })
    .await
}

/// Answers a thread the actor takes part in: to everyone in it (the writers
/// of its posts and its addressees, copies staying copies) but the actor.
pub async fn reply(
    db: &Db,
    user: Actor,
    thread_id: String,
    body: String,
) -> Result<Thread, AppError> {
    db.transaction(move |conn| {
        let rows = messages::thread(conn, &thread_id)?;
        let to = Addressee::of(&user);
        if !takes_part(&rows, &to) {
            return Err(thread_not_found());
        }
        let first = &rows[0];
        let mut targets: Vec<Target> = Vec::new();
        let mut add = |t: Target| {
            if t.1.as_deref() == Some(user.id.as_str()) {
                return;
            }
            match targets
                .iter_mut()
                .find(|o| (&o.0, &o.1, &o.2) == (&t.0, &t.1, &t.2))
            {
                Some(o) => o.3 &= t.3,
                None => targets.push(t),
            }
        };
        for r in &rows {
            if let Some(s) = &r.sender_id {
                add((None, Some(s.clone()), None, false));
            }
            add((
                r.recipient_group_id.clone(),
                r.recipient_user_id.clone(),
                r.recipient_role.clone(),
                r.copy,
            ));
        }
        if targets.is_empty() {
            let mut p = Problems::default();
            p.add(
                "body",
                "no_addressee",
                "nobody but you takes part in this thread",
                "ingen annan än du finns i tråden",
            );
            return Err(p.finish().unwrap_err());
        }
        let subject = if first.subject.starts_with("Sv: ") {
            first.subject.clone()
        } else {
            format!("Sv: {}", first.subject)
        };
        write_post(
            conn,
            &user,
            &db::new_id(),
            Some(&thread_id),
            first.customer_id.as_deref(),
            first.order_id.as_deref(),
            &Text { subject, body },
            &targets,
        )?;
        load_thread(conn, &thread_id)
    })
    .await
}

/// A thread the actor takes part in; reading one about a customer is audited.
pub async fn thread(db: &Db, user: Actor, thread_id: String) -> Result<Thread, AppError> {
    db.read_audited(move |conn| {
        let rows = messages::thread(conn, &thread_id)?;
        if !takes_part(&rows, &Addressee::of(&user)) {
            return Err(thread_not_found());
        }
        let thread = load_thread(conn, &thread_id)?;
        let audit = read_entries(&user, std::slice::from_ref(&thread));
        Ok((thread, audit))
    })
    .await
}

/// The threads about an order that the actor takes part in, newest first.
pub async fn threads_about_order(
    db: &Db,
    user: Actor,
    order_id: String,
) -> Result<Vec<Thread>, AppError> {
    db.read_audited(move |conn| {
        let ids = messages::threads_about_order(conn, &Addressee::of(&user).as_query(), &order_id)?;
        let threads = ids
            .iter()
            .map(|id| load_thread(conn, id))
            .collect::<Result<Vec<_>, _>>()?;
        let audit = read_entries(&user, &threads);
        Ok((threads, audit))
    })
    .await
}

fn read_entries(user: &Actor, threads: &[Thread]) -> Vec<audit::AuditRow> {
    audit::rows_of(
        user,
        threads.iter().filter_map(|t| {
            let c = t.customer_id.as_deref()?;
            Some(audit::Entry::new("message.read", "message", Some(&t.id)).customer(c))
        }),
    )
}

fn takes_part(rows: &[messages::MessageRow], a: &Addressee) -> bool {
    let q = a.as_query();
    rows.iter().any(|r| {
        r.sender_id.as_deref() == Some(a.user_id.as_str()) || messages::is_addressed_to(r, &q)
    })
}

/// Checks and collects a list of addressees; problems are named under `field`.
fn resolve(
    conn: &mut DbConn,
    p: &mut Problems,
    field: &str,
    list: &Addressees,
    ordinary: Option<&str>,
    copy: bool,
    out: &mut Vec<Target>,
) -> Result<(), AppError> {
    let mut push = |t: Target| {
        if !out.iter().any(|o| (&o.0, &o.1, &o.2) == (&t.0, &t.1, &t.2)) {
            out.push(t);
        }
    };
    for id in &list.users {
        match users::find(conn, id)? {
            Some(u) if u.active => push((None, Some(u.id), None, copy)),
            _ => p.add(
                &format!("{field}.users"),
                "unknown",
                format!("no active user {id}"),
                format!("det finns ingen aktiv användare med id {id}"),
            ),
        }
    }
    let found = org::find_groups(conn, &list.groups)?;
    for id in &list.groups {
        if found.iter().any(|g| &g.id == id) {
            push((Some(id.clone()), None, None, copy));
        } else {
            p.add(
                &format!("{field}.groups"),
                "unknown",
                format!("no group {id}"),
                format!("det finns ingen grupp med id {id}"),
            );
        }
    }
    for role in &list.roles {
        push((None, None, Some(role.as_str().to_string()), copy));
    }
    if list.ordinary_assessor {
        match ordinary {
            Some(a) => push((None, Some(a.to_string()), None, copy)),
            None => p.add(
                &format!("{field}.ordinary_assessor"),
                "no_ordinary_assessor",
                "the message is about no customer with an ordinary assessor; name the assessor as a person",
                "meddelandet gäller ingen brukare med ordinarie handläggare; välj handläggaren som person",
            ),
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_post(
    conn: &mut DbConn,
    user: &Actor,
    post_id: &str,
    thread_id: Option<&str>,
    customer_id: Option<&str>,
    order_id: Option<&str>,
    text: &Text,
    targets: &[Target],
) -> Result<(), AppError> {
    for (group_id, user_id, role, copy) in targets {
        super::notify::write(
            conn,
            &super::notify::Addressed {
                group_id: group_id.clone(),
                user_id: user_id.clone(),
                role: role.clone(),
                customer_id,
                order_id,
                sender_id: Some(&user.id),
                topic: CONVERSATION,
                post_id,
                thread_id,
                copy: *copy,
            },
            text,
        )?;
    }
    let mut entry = audit::Entry::new("message.write", "message", Some(post_id));
    if let Some(c) = customer_id {
        entry = entry.customer(c);
    }
    audit::record(conn, user, entry)?;
    Ok(())
}

/// A thread's posts with the names of writers and addressees.
fn load_thread(conn: &mut DbConn, thread_id: &str) -> Result<Thread, AppError> {
    let rows = messages::thread(conn, thread_id)?;
    let Some(first) = rows.first() else {
        return Err(thread_not_found());
    };
    let customer_number = match &first.customer_id {
        Some(id) => db::customers::find(conn, id)?.map(|c| c.customer_number),
        None => None,
    };
    let mut names = Names::default();
    let mut posts: Vec<Post> = Vec::new();
    for r in &rows {
        let addressee = names.of(conn, r)?;
        if posts.last().map(|p| p.id.as_str()) != Some(r.post_id.as_str()) {
            let sender = match &r.sender_id {
                Some(s) => Some(names.user(conn, s)?),
                None => None,
            };
            posts.push(Post {
                id: r.post_id.clone(),
                created_at: r.created_at,
                sender,
                topic: r.topic.clone(),
                subject: r.subject.clone(),
                body: r.body.clone(),
                to: Vec::new(),
                copy: Vec::new(),
            });
        }
        let post = posts.last_mut().expect("pushed above");
        if r.copy {
            post.copy.push(addressee);
        } else {
            post.to.push(addressee);
        }
    }
    Ok(Thread {
        id: thread_id.to_string(),
        customer_id: first.customer_id.clone(),
        customer_number,
        order_id: first.order_id.clone(),
        posts,
    })
}

/// Names looked up once per thread.
#[derive(Default)]
struct Names(std::collections::HashMap<String, Named>);

impl Names {
    fn user(&mut self, conn: &mut DbConn, id: &str) -> Result<Named, AppError> {
        if let Some(n) = self.0.get(id) {
            return Ok(n.clone());
        }
        let name = users::find(conn, id)?
            .map(|u| u.display_name)
            .unwrap_or_else(|| "okänd användare".into());
        let n = Named {
            kind: "user",
            id: id.to_string(),
            name,
        };
        self.0.insert(id.to_string(), n.clone());
        Ok(n)
    }

    fn of(&mut self, conn: &mut DbConn, r: &messages::MessageRow) -> Result<Named, AppError> {
        if let Some(u) = &r.recipient_user_id {
            return self.user(conn, u);
        }
        if let Some(g) = &r.recipient_group_id {
            if let Some(n) = self.0.get(g) {
                return Ok(n.clone());
            }
            let name = org::find_groups(conn, std::slice::from_ref(g))?
                .pop()
                .map(|g| g.name)
                .unwrap_or_else(|| "okänd grupp".into());
            let n = Named {
                kind: "group",
                id: g.clone(),
                name,
            };
            self.0.insert(g.clone(), n.clone());
            return Ok(n);
        }
        let role = r.recipient_role.clone().unwrap_or_default();
        let name = Role::ALL
            .into_iter()
            .find(|x| x.as_str() == role)
            .map(|x| x.sv_all().to_string())
            .unwrap_or_else(|| role.clone());
        Ok(Named {
            kind: "role",
            id: role,
            name,
        })
    }
}
