use crate::helpers::{Backend, TestDatabase};
use diesel::prelude::*;
use diesel::sql_types::Text;
use larmkoll::db::{DatabaseTarget, Db, DbConn};

/// One line of a schema: what it is, where, and its whole definition.
#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Part {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    definition: String,
}

/// The whole schema but diesel's own table: every column with its type,
/// nullability, default and key; every index; every constraint (PostgreSQL)
/// or the table's own SQL (SQLite, where constraints live in it), and the
/// triggers.
fn schema_of(db: &Db) -> Vec<Part> {
    let mut conn = db.get().unwrap();
    let queries: &[&str] = match &*conn {
        DbConn::Sqlite(_) => &[
            "SELECT 'column' AS kind, m.name AS table_name, p.name AS name, \
             p.type || ' notnull=' || p.\"notnull\" || ' default=' || COALESCE(p.dflt_value, '-') \
             || ' pk=' || p.pk AS definition \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
             AND m.name <> '__diesel_schema_migrations'",
            "SELECT type AS kind, tbl_name AS table_name, name, COALESCE(sql, '') AS definition \
             FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' \
             AND tbl_name <> '__diesel_schema_migrations'",
        ],
        DbConn::Postgres(_) => &[
            "SELECT 'column' AS kind, table_name::text AS table_name, column_name::text AS name, \
             data_type || ' nullable=' || is_nullable || ' default=' || COALESCE(column_default, '-') \
             AS definition FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
            "SELECT 'index' AS kind, tablename::text AS table_name, indexname::text AS name, \
             indexdef AS definition FROM pg_indexes \
             WHERE schemaname = 'public' AND tablename <> '__diesel_schema_migrations'",
            "SELECT 'constraint' AS kind, c.conrelid::regclass::text AS table_name, \
             c.conname::text AS name, pg_get_constraintdef(c.oid) AS definition \
             FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
             WHERE n.nspname = 'public' AND c.conrelid::regclass::text <> '__diesel_schema_migrations'",
            "SELECT 'trigger' AS kind, event_object_table::text AS table_name, \
             trigger_name::text AS name, action_statement::text AS definition \
             FROM information_schema.triggers WHERE trigger_schema = 'public'",
        ],
    };
    let mut parts = Vec::new();
    for q in queries {
        let rows: Vec<Part> = match &mut *conn {
            DbConn::Sqlite(c) => diesel::sql_query(*q).load(c).unwrap(),
            DbConn::Postgres(c) => diesel::sql_query(*q).load(c).unwrap(),
        };
        parts.extend(rows);
    }
    parts.sort();
    parts
}

fn up_down_up(backend: Backend) {
    let Some(database) = TestDatabase::create(backend) else {
        return;
    };
    let db = Db::connect(DatabaseTarget::from_url(&database.url).unwrap(), 2).unwrap();
    assert!(!db.migrate().unwrap().is_empty());
    let first = schema_of(&db);
    assert!(first
        .iter()
        .any(|p| p.kind == "column" && p.table_name == "customers" && p.name == "personnummer"));
    // Indexes and constraints are compared too, not only names.
    assert!(first.iter().any(|p| p.kind == "index"));
    assert!(first
        .iter()
        .any(|p| p.kind != "column" && p.definition.to_uppercase().contains("REFERENCES")));
    db.revert_all().unwrap();
    assert!(schema_of(&db).is_empty(), "down leaves tables behind");
    db.migrate().unwrap();
    let again = schema_of(&db);
    let differ: Vec<_> = first
        .iter()
        .zip(&again)
        .filter(|(a, b)| a != b)
        .take(3)
        .collect();
    assert_eq!(
        again.len(),
        first.len(),
        "up -> down -> up changed the schema"
    );
    assert!(
        differ.is_empty(),
        "up -> down -> up changed the schema: {differ:?}"
    );
    assert!(
        db.migrate().unwrap().is_empty(),
        "a second run applies nothing"
    );
}

#[test]
fn migrations_go_up_down_up_on_sqlite() {
    up_down_up(Backend::Sqlite);
}

#[test]
fn migrations_go_up_down_up_on_postgres() {
    up_down_up(Backend::Postgres);
}

#[test]
fn migration_folders_match_one_to_one() {
    let names = |backend: &str| {
        let dir = format!("{}/migrations/{backend}", env!("CARGO_MANIFEST_DIR"));
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("sqlite"), names("postgres"));
}
