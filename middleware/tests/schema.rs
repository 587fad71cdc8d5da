//! The schema `Db::connect` creates matches tools-and-schema §1.2–1.4, read back from each
//! backend's catalogue; an existing schema is detected and left alone.

mod common;

use common::catalogue::{self, Column, ForeignKey, Index, Table};
use middleware::{Backend, Db, Error, SchemaVariant, db_test};

/// Column types as the spec names them.
#[derive(Clone, Copy)]
enum Type {
    Int,
    BigInt,
    SmallInt,
    Double,
    Varchar(u32),
    Text,
}

/// How the backend's catalogue reports a spec type.
fn native(backend: Backend, kind: Type) -> String {
    match (backend, kind) {
        (Backend::MySql, Type::Int) => "int".into(),
        (Backend::Postgres, Type::Int) => "integer".into(),
        (Backend::Sqlite, Type::Int) => "INTEGER".into(),
        (Backend::MySql | Backend::Postgres, Type::BigInt) => "bigint".into(),
        (Backend::Sqlite, Type::BigInt) => "BIGINT".into(),
        (Backend::MySql | Backend::Postgres, Type::SmallInt) => "smallint".into(),
        (Backend::Sqlite, Type::SmallInt) => "SMALLINT".into(),
        (Backend::MySql, Type::Double) => "double".into(),
        (Backend::Postgres, Type::Double) => "double precision".into(),
        (Backend::Sqlite, Type::Double) => "DOUBLE PRECISION".into(),
        (Backend::MySql, Type::Varchar(n)) => format!("varchar({n})"),
        (Backend::Postgres, Type::Varchar(n)) => format!("character varying({n})"),
        (Backend::Sqlite, Type::Varchar(n)) => format!("VARCHAR({n})"),
        (Backend::MySql, Type::Text) => "longtext".into(),
        (Backend::Postgres, Type::Text) => "text".into(),
        (Backend::Sqlite, Type::Text) => "CLOB".into(),
    }
}

/// The ON DELETE rule a foreign key without actions reports.
fn no_action(backend: Backend) -> String {
    match backend {
        Backend::MySql => "RESTRICT".into(),
        Backend::Postgres | Backend::Sqlite => "NO ACTION".into(),
    }
}

/// A NOT NULL column.
fn column(backend: Backend, name: &str, kind: Type) -> Column {
    Column {
        name: name.into(),
        kind: native(backend, kind),
        nullable: false,
        generated: false,
    }
}

fn index(name: &str, unique: bool, columns: &[&str]) -> Index {
    Index {
        name: name.into(),
        unique,
        columns: columns.iter().map(|c| c.to_string()).collect(),
    }
}

fn foreign_key(backend: Backend, name: &str, column: &str) -> ForeignKey {
    ForeignKey {
        // SQLite's pragmas do not name constraints; the DDL text is checked instead.
        name: (backend != Backend::Sqlite).then(|| name.to_lowercase()),
        column: column.into(),
        table: "entities".into(),
        referenced: "id".into(),
        on_delete: no_action(backend),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The current schema as tools-and-schema §1.2–1.4 describes it.
fn expected(backend: Backend) -> Vec<Table> {
    let mut id = column(backend, "id", Type::Int);
    // MySQL AUTO_INCREMENT and SQLite AUTOINCREMENT; PostgreSQL's id has no default (§1.3).
    id.generated = backend != Backend::Postgres;
    let mut tables = vec![
        Table {
            name: "entities".into(),
            columns: vec![
                id,
                column(backend, "uuid", Type::Varchar(36)),
                column(backend, "type", Type::Varchar(255)),
                column(backend, "class", Type::Varchar(255)),
            ],
            primary_key: strings(&["id"]),
            indexes: vec![index("uniq_50ec64e5d17f50a6", true, &["uuid"])],
            foreign_keys: vec![],
        },
        Table {
            name: "entities_in_aggregator".into(),
            columns: vec![
                column(backend, "parent_id", Type::Int),
                column(backend, "child_id", Type::Int),
            ],
            primary_key: strings(&["parent_id", "child_id"]),
            indexes: vec![
                index("idx_2bd88468727aca70", false, &["parent_id"]),
                index("idx_2bd88468dd62c21b", false, &["child_id"]),
            ],
            foreign_keys: vec![
                foreign_key(backend, "FK_2BD88468727ACA70", "parent_id"),
                foreign_key(backend, "FK_2BD88468DD62C21B", "child_id"),
            ],
        },
        Table {
            name: "data".into(),
            columns: vec![
                column(backend, "timestamp", Type::BigInt),
                column(backend, "channel_id", Type::Int),
                column(backend, "value", Type::Double),
            ],
            primary_key: strings(&["channel_id", "timestamp"]),
            indexes: vec![index("idx_adf3f36372f5a1aa", false, &["channel_id"])],
            foreign_keys: vec![foreign_key(backend, "FK_ADF3F36372F5A1AA", "channel_id")],
        },
        Table {
            name: "properties".into(),
            columns: vec![
                column(backend, "pkey", Type::Varchar(255)),
                column(backend, "entity_id", Type::Int),
                column(backend, "value", Type::Text),
            ],
            primary_key: strings(&["entity_id", "pkey"]),
            indexes: vec![index("idx_87c331c781257d5d", false, &["entity_id"])],
            foreign_keys: vec![foreign_key(backend, "FK_87C331C781257D5D", "entity_id")],
        },
        Table {
            name: "aggregate".into(),
            columns: vec![
                column(backend, "type", Type::SmallInt),
                column(backend, "timestamp", Type::BigInt),
                column(backend, "channel_id", Type::Int),
                column(backend, "value", Type::Double),
                column(backend, "count", Type::Int),
            ],
            primary_key: strings(&["channel_id", "type", "timestamp"]),
            indexes: vec![index("idx_b77949ff72f5a1aa", false, &["channel_id"])],
            foreign_keys: vec![foreign_key(backend, "FK_B77949FF72F5A1AA", "channel_id")],
        },
    ];
    for table in &mut tables {
        table.indexes.sort();
        table.foreign_keys.sort();
    }
    tables
}

db_test!(creates_the_current_schema, |t| async move {
    let backend = t.backend();
    assert_eq!(t.db().variant(), SchemaVariant::Current);
    let pool = common::raw(&t).await;
    assert_eq!(
        catalogue::table_names(&pool, backend).await,
        strings(&[
            "aggregate",
            "data",
            "entities",
            "entities_in_aggregator",
            "properties"
        ])
    );
    for want in expected(backend) {
        let got = catalogue::table(&pool, backend, &want.name).await;
        assert_eq!(got, want, "table {}", want.name);
    }
    match backend {
        Backend::Postgres => {
            assert_eq!(
                catalogue::pg_sequences(&pool).await,
                strings(&["entities_id_seq"])
            );
        }
        Backend::MySql => {
            for table in [
                "entities",
                "entities_in_aggregator",
                "data",
                "properties",
                "aggregate",
            ] {
                let (engine, collation) = catalogue::mysql_table_options(&pool, table).await;
                assert_eq!(engine, "InnoDB", "{table}");
                assert!(
                    ["utf8_unicode_ci", "utf8mb3_unicode_ci"].contains(&collation.as_str()),
                    "{table}: {collation}"
                );
            }
        }
        Backend::Sqlite => {
            for (table, fk, column) in [
                ("entities_in_aggregator", "FK_2BD88468727ACA70", "parent_id"),
                ("entities_in_aggregator", "FK_2BD88468DD62C21B", "child_id"),
                ("data", "FK_ADF3F36372F5A1AA", "channel_id"),
                ("properties", "FK_87C331C781257D5D", "entity_id"),
                ("aggregate", "FK_B77949FF72F5A1AA", "channel_id"),
            ] {
                let sql = catalogue::sqlite_sql(&pool, table).await;
                let constraint = format!(
                    "CONSTRAINT {fk} FOREIGN KEY ({column}) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE"
                );
                assert!(sql.contains(&constraint), "{table}: {sql}");
            }
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(mode, "wal");
        }
    }
    pool.close().await;
});

db_test!(reconnecting_keeps_the_schema, |t| async move {
    let backend = t.backend();
    let pool = common::raw(&t).await;
    let mut before = Vec::new();
    for want in expected(backend) {
        before.push(catalogue::table(&pool, backend, &want.name).await);
    }
    let again = t.connect().await.unwrap();
    assert_eq!(again.variant(), SchemaVariant::Current);
    assert_eq!(again.backend(), backend);
    again.close().await;
    for table in before {
        assert_eq!(catalogue::table(&pool, backend, &table.name).await, table);
    }
    pool.close().await;
});

db_test!(empty refuses_an_incomplete_schema, |t| async move {
    t.execute("CREATE TABLE entities (id INT NOT NULL, uuid VARCHAR(36) NOT NULL, PRIMARY KEY(id))").await;
    match t.connect().await {
        Err(Error::IncompleteSchema { missing }) => {
            assert_eq!(missing, ["entities_in_aggregator", "data", "properties", "aggregate"]);
        }
        other => panic!("expected IncompleteSchema, got {other:?}"),
    }
    let pool = common::raw(&t).await;
    assert_eq!(catalogue::table_names(&pool, t.backend()).await, strings(&["entities"]));
    pool.close().await;
});

#[tokio::test]
async fn rejects_unknown_schemes() {
    assert!(matches!(
        Db::connect("oracle://x").await,
        Err(Error::InvalidUrl { .. })
    ));
    assert!(matches!(
        Db::connect("mysql://vz:secret@[::1").await,
        Err(Error::Database(_) | Error::InvalidUrl { .. })
    ));
}

#[tokio::test]
async fn creates_the_sqlite_file_and_its_folder() {
    let dir = std::env::temp_dir().join(format!("vz-schema-{}", uuid_like()));
    let file = dir.join("nested").join("vz.sqlite3");
    let db = Db::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    assert_eq!(db.backend(), Backend::Sqlite);
    assert!(file.is_file());
    db.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn in_memory_sqlite_keeps_its_schema() {
    let db = Db::connect("sqlite::memory:").await.unwrap();
    let channel = db
        .create_entity(&common::power("mem", "1000"))
        .await
        .unwrap();
    db.insert_reading(channel.id, 1, 1.0).await.unwrap();
    assert_eq!(db.readings(channel.id, 0, 10).await.unwrap().len(), 1);
    db.close().await;
}

/// A unique suffix for a temporary folder.
fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}
