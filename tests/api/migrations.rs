use crate::helpers::{Backend, TestDatabase};
use diesel::prelude::*;
use diesel::sql_types::Text;
use larmkoll::db::{DatabaseTarget, Db, DbConn};

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

fn schema_of(db: &Db) -> Vec<Column> {
    let mut conn = db.get().unwrap();
    let mut cols: Vec<Column> = match &mut *conn {
        DbConn::Sqlite(c) => diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m \
             JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
             AND m.name <> '__diesel_schema_migrations'",
        )
        .load(c)
        .unwrap(),
        DbConn::Postgres(c) => diesel::sql_query(
            "SELECT table_name::text AS table_name, column_name::text AS column_name FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
        )
        .load(c)
        .unwrap(),
    };
    cols.sort();
    cols
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
        .any(|c| c.table_name == "customers" && c.column_name == "personnummer"));
    db.revert_all().unwrap();
    assert!(schema_of(&db).is_empty(), "down leaves tables behind");
    db.migrate().unwrap();
    assert_eq!(schema_of(&db), first);
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
