//! The legacy schema variant (tools-and-schema §1.5: `data`, `properties` and `aggregate`
//! with an `id` primary key and a unique index over the natural key) is detected, read and
//! written, and never altered.

mod common;

use common::catalogue::{self, Table};
use common::{group, power};
use middleware::testing::{TestDb, legacy_ddl};
use middleware::{Backend, Error, Reading, SchemaVariant, db_test};

const TABLES: [&str; 5] = [
    "entities",
    "entities_in_aggregator",
    "data",
    "properties",
    "aggregate",
];

/// Every volkszaehler table as the catalogue describes it.
async fn snapshot(t: &TestDb) -> Vec<Table> {
    let pool = common::raw(t).await;
    let mut tables = Vec::new();
    for name in TABLES {
        tables.push(catalogue::table(&pool, t.backend(), name).await);
    }
    pool.close().await;
    tables
}

db_test!(empty reads_and_writes_the_legacy_schema, |t| async move {
    t.execute(legacy_ddl(t.backend())).await;
    let before = snapshot(&t).await;
    assert!(before[2].columns.iter().any(|c| c.name == "id"), "legacy data has an id");

    let db = t.connect().await?;
    assert_eq!(db.variant(), SchemaVariant::Legacy);

    let channel = db.create_entity(&power("legacy", "1000")).await?;
    let other = db.create_entity(&power("other", "2000")).await?;
    let parent = db.create_entity(&group("parent")).await?;
    db.set_property(&channel.uuid, "color", "red").await?;
    db.set_property(&channel.uuid, "color", "blue").await?;
    db.unset_property(&other.uuid, "title").await.expect_err("title is required");
    db.add_child(&parent.uuid, &channel.uuid).await?;
    db.add_child(&parent.uuid, &other.uuid).await?;
    assert_eq!(db.entity(&channel.uuid).await?.properties["color"], "blue");
    assert_eq!(db.children(&parent.uuid).await?.len(), 2);
    assert_eq!(db.entities().await?.len(), 3);

    db.insert_reading(channel.id, 1000, 1.0).await?;
    let batch: Vec<Reading> = (2..=2500).map(|i| Reading { timestamp: i * 1000, value: i as f64 }).collect();
    assert_eq!(db.insert_readings(channel.id, &batch).await?, 2499);
    assert!(matches!(
        db.insert_readings(channel.id, &[Reading { timestamp: 1, value: 0.0 }, Reading { timestamp: 1000, value: 0.0 }]).await,
        Err(Error::DuplicateReading { timestamp: 1000, .. })
    ));
    assert!(matches!(db.insert_reading(channel.id, 2000, 0.0).await, Err(Error::DuplicateReading { .. })));
    db.insert_reading(other.id, 1000, 5.0).await?;
    let read = db.readings(channel.id, 0, i64::MAX).await?;
    assert_eq!(read.len(), 2500);
    assert_eq!(read[0], Reading { timestamp: 1000, value: 1.0 });
    assert_eq!(read[2499], Reading { timestamp: 2_500_000, value: 2500.0 });

    // The surrogate ids were filled by the database (or, on PostgreSQL, from the sequence).
    let pool = common::raw(&t).await;
    let ids: Vec<i32> = sqlx::query_scalar("SELECT id FROM properties ORDER BY id").fetch_all(&pool).await?;
    assert_eq!(ids.len(), 6);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    pool.close().await;

    db.delete_entity(&channel.uuid).await?;
    assert!(db.find_entity(&channel.uuid).await?.is_none());
    assert_eq!(db.readings(channel.id, 0, i64::MAX).await?, []);
    assert_eq!(db.children(&parent.uuid).await?.len(), 1);
    assert_eq!(common::counts(&t).await, [2, 3, 1, 1, 0]);
    db.close().await;

    assert_eq!(snapshot(&t).await, before, "the legacy schema was altered");
    let again = t.connect().await?;
    assert_eq!(again.variant(), SchemaVariant::Legacy);
    again.close().await;
    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
});

db_test!(empty reads_properties_that_legacy_rows_left_null, |t| async move {
    t.execute(legacy_ddl(t.backend())).await;
    let db = t.connect().await?;
    let channel = db.create_entity(&power("nulls", "1")).await?;
    let id = match t.backend() {
        Backend::Postgres => "nextval('properties_id_seq'), ",
        Backend::MySql | Backend::Sqlite => "",
    };
    let id_column = if id.is_empty() { "" } else { "id, " };
    t.execute(&format!(
        "INSERT INTO properties ({id_column}entity_id, pkey, value) VALUES ({id}{}, 'description', NULL); \
         INSERT INTO properties ({id_column}entity_id, pkey, value) VALUES ({id}{}, NULL, 'orphan')",
        channel.id, channel.id
    ))
    .await;
    let read = db.entity(&channel.uuid).await?;
    assert_eq!(read.properties.get("description").map(String::as_str), Some(""));
    assert_eq!(read.properties.len(), 3);
    assert_eq!(db.entities().await?[0].properties, read.properties);
    db.close().await;
    Ok::<_, Error>(())
});
