//! Copying tables (`Db::read_page`, `CopyTarget`, vz-dbcopy) within each backend: paging
//! covers every row once, writes keep every value, foreign keys are back afterwards,
//! orphans and id sequences are handled, and the database-level helpers.

mod common;

use std::collections::BTreeSet;

use common::{group, power};
use middleware::testing::{TestBackend, TestDb};
use middleware::{Backend, Db, Error, OnConflict, Reading, Table, db_test};

/// The five foreign keys of the schema, as `Db::entity_references` lists them.
fn schema_references() -> Vec<(String, String)> {
    [
        ("aggregate", "channel_id"),
        ("data", "channel_id"),
        ("entities_in_aggregator", "child_id"),
        ("entities_in_aggregator", "parent_id"),
        ("properties", "entity_id"),
    ]
    .iter()
    .map(|(t, c)| ((*t).to_owned(), (*c).to_owned()))
    .collect()
}

fn test_backend(backend: Backend) -> TestBackend {
    match backend {
        Backend::Sqlite => TestBackend::Sqlite,
        Backend::MySql => TestBackend::MySql,
        Backend::Postgres => TestBackend::Postgres,
    }
}

/// Two channels in a group with readings and aggregates.
async fn fill(t: &TestDb) -> Result<(), Error> {
    let db = t.db();
    let a = db.create_entity(&power("a", "1000")).await?;
    let b = db.create_entity(&power("b", "500")).await?;
    let g = db.create_entity(&group("g")).await?;
    db.add_child(&g.uuid, &a.uuid).await?;
    db.add_child(&g.uuid, &b.uuid).await?;
    for (channel, n) in [(a.id, 1234), (b.id, 777)] {
        let readings: Vec<Reading> = (0..n)
            .map(|i| Reading {
                timestamp: 1_700_000_000_000 + i * 997,
                value: f64::from(i32::try_from(i).unwrap()) / 3.0,
            })
            .collect();
        db.insert_readings(channel, &readings).await?;
    }
    let quote = if t.backend() == Backend::MySql {
        '`'
    } else {
        '"'
    };
    let mut script = String::new();
    for kind in 0..3 {
        for i in 0..10 {
            script.push_str(&format!(
                "INSERT INTO aggregate (channel_id, {quote}type{quote}, {quote}timestamp{quote}, {quote}value{quote}, {quote}count{quote}) VALUES ({}, {kind}, {}, {}, {i});",
                a.id,
                1_700_000_000_000_i64 + i64::from(i) * 3_600_000,
                f64::from(i) * 1.5
            ));
        }
    }
    t.execute(&script).await;
    Ok(())
}

/// Every row of a table as text, read page by page.
async fn lines(db: &Db, table: Table, page_size: usize) -> Result<Vec<String>, Error> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = db.read_page(table, after.as_ref(), page_size).await?;
        if page.is_empty() {
            return Ok(all);
        }
        assert!(page.len() <= page_size);
        assert_eq!(page.table(), table);
        after = page.last_key();
        all.extend(page.lines());
    }
}

db_test!(pages_cover_every_row_once_in_key_order, |t| async move {
    fill(&t).await?;
    let db = t.db();
    for (table, expected) in [
        (Table::Entities, 3),
        (Table::Properties, 5),
        (Table::EntitiesInAggregator, 2),
        (Table::Data, 2011),
        (Table::Aggregate, 30),
    ] {
        let small = lines(db, table, 7).await?;
        assert_eq!(small.len(), expected, "{table}");
        assert_eq!(lines(db, table, 10_000).await?, small, "{table}");
        let distinct: BTreeSet<&String> = small.iter().collect();
        assert_eq!(distinct.len(), expected, "{table}: a row repeated");
        assert_eq!(db.count_rows(table, None).await?, expected as u64);
        assert_eq!(
            common::count(&t, table.name()).await,
            i64::try_from(expected).unwrap()
        );
    }
    // Counting and reading after a key agree.
    let first = db.read_page(Table::Data, None, 1000).await?;
    let key = first.last_key().expect("rows");
    assert_eq!(db.count_rows(Table::Data, Some(&key)).await?, 1011);
    let last = db.last_key(Table::Data).await?.expect("rows");
    assert_eq!(db.count_rows(Table::Data, Some(&last)).await?, 0);
    assert!(db.read_page(Table::Data, Some(&last), 10).await?.is_empty());
    Ok::<_, Error>(())
});

db_test!(
    copies_into_another_database_and_restores_foreign_keys,
    |t| async move {
        fill(&t).await?;
        let source = t.db();
        let target = TestDb::new(test_backend(t.backend()))
            .await
            .expect("same backend");
        let result = async {
            let db = target.db();
            let mut writer = db.copy_target(false).await?;
            for table in Table::ALL {
                let mut after = None;
                loop {
                    let page = source.read_page(table, after.as_ref(), 500).await?;
                    if page.is_empty() {
                        break;
                    }
                    assert_eq!(
                        writer.write(&page, OnConflict::Fail).await?,
                        page.len() as u64
                    );
                    after = page.last_key();
                }
            }
            let report = writer.finish().await?;
            assert!(report.orphans_removed.is_empty());
            assert!(report.foreign_keys_repaired.is_empty());
            if t.backend() == Backend::Postgres {
                assert_eq!(report.foreign_keys_restored.len(), 5);
            }
            for table in Table::ALL {
                assert_eq!(
                    lines(db, table, 1000).await?,
                    lines(source, table, 1000).await?,
                    "{table}"
                );
            }
            assert_eq!(db.entity_references().await?, schema_references());
            // The id generator continues above the copied ids.
            let max = source.entities().await?.iter().map(|e| e.id).max().unwrap();
            let fresh = db.create_entity(&power("after copy", "1")).await?;
            assert!(fresh.id > max, "{} <= {max}", fresh.id);

            // An incremental write of the same rows skips them (MySQL counts them all the
            // same, see `CopyTarget::write`).
            let mut writer = db.copy_target(false).await?;
            let page = source.read_page(Table::Data, None, 100).await?;
            let written = writer.write(&page, OnConflict::Skip).await?;
            assert_eq!(
                written,
                if t.backend() == Backend::MySql {
                    100
                } else {
                    0
                }
            );
            writer.finish().await?;
            assert_eq!(db.count_rows(Table::Data, None).await?, 2011);
            Ok::<_, Error>(())
        }
        .await;
        target.cleanup().await;
        result
    }
);

db_test!(
    rows_of_entities_gone_from_the_source_are_removed,
    |t| async move {
        fill(&t).await?;
        let db = t.db();
        let source = TestDb::new(test_backend(t.backend()))
            .await
            .expect("same backend");
        let result = async {
            // The source deleted the first two of its three channels (ids 1 and 2); the
            // target's rows of those ids are orphans once its entities are copied anew.
            let src = source.db();
            for title in ["x", "y"] {
                let gone = src.create_entity(&power(title, "1")).await?;
                src.delete_entity(&gone.uuid).await?;
            }
            let kept = src.create_entity(&power("kept", "1")).await?;
            assert_eq!(kept.id, 3);
            let mut writer = db.copy_target(false).await?;
            writer.clear(Table::Entities).await?;
            writer.clear(Table::Properties).await?;
            let page = source.db().read_page(Table::Entities, None, 100).await?;
            writer.write(&page, OnConflict::Fail).await?;
            let page = source.db().read_page(Table::Properties, None, 100).await?;
            writer.write(&page, OnConflict::Fail).await?;
            let report = writer.finish().await?;
            let removed: Vec<(Table, u64)> = report.orphans_removed;
            assert_eq!(
                removed,
                [
                    (Table::Aggregate, 30),
                    (Table::Data, 2011),
                    (Table::EntitiesInAggregator, 2)
                ]
            );
            assert_eq!(common::counts(&t).await, [1, 2, 0, 0, 0]);
            assert_eq!(db.entities().await?[0].uuid, kept.uuid);
            assert_eq!(db.entity_references().await?, schema_references());
            Ok::<_, Error>(())
        }
        .await;
        source.cleanup().await;
        result
    }
);

db_test!(
    kept_constraints_refuse_to_empty_referenced_entities,
    |t| async move {
        fill(&t).await?;
        let db = t.db();
        let mut writer = db.copy_target(true).await?;
        assert!(matches!(
            writer.clear(Table::Entities).await,
            Err(Error::Database(_))
        ));
        writer.clear(Table::Data).await?;
        writer.finish().await?;
        assert_eq!(common::count(&t, "data").await, 0);
        assert_eq!(common::count(&t, "entities").await, 3);
        assert_eq!(db.entity_references().await?, schema_references());
        Ok::<_, Error>(())
    }
);

db_test!(
    missing_foreign_keys_are_repaired_on_postgres,
    |t| async move {
        if t.backend() != Backend::Postgres {
            return Ok(());
        }
        // What a copy killed between dropping and restoring leaves behind.
        t.execute("ALTER TABLE data DROP CONSTRAINT fk_adf3f36372f5a1aa")
            .await;
        let db = t.db();
        assert_eq!(db.entity_references().await?.len(), 4);
        let report = db.copy_target(false).await?.finish().await?;
        assert_eq!(report.foreign_keys_repaired, ["fk_adf3f36372f5a1aa"]);
        assert_eq!(db.entity_references().await?, schema_references());
        Ok::<_, Error>(())
    }
);

db_test!(empty connecting_to_a_source_creates_nothing, |t| async move {
    match Db::connect_existing(t.url()).await {
        Err(Error::IncompleteSchema { missing }) => assert_eq!(missing.len(), 5),
        other => panic!("expected IncompleteSchema, got {other:?}"),
    }
    // Still empty: connecting now creates the schema.
    let db = t.connect().await?;
    assert!(db.entities().await?.is_empty());
    db.close().await;
    let db = Db::connect_existing(t.url()).await?;
    db.close().await;
    Ok::<_, Error>(())
});

#[tokio::test]
async fn a_missing_sqlite_source_file_is_not_created() {
    let dir = tempfile_dir();
    let file = dir.join("missing.sqlite3");
    let url = format!("sqlite://{}", file.display());
    assert!(Db::connect_existing(&url).await.is_err());
    assert!(!file.exists());
    assert!(!Db::drop_database(&url).await.unwrap());
    // A file is "created" by connecting; create_database has nothing to do.
    assert!(!Db::create_database(&url).await.unwrap());
    Db::connect(&url).await.unwrap().close().await;
    assert!(file.exists());
    assert!(Db::drop_database(&url).await.unwrap());
    assert!(!file.exists());
    std::fs::remove_dir_all(dir).unwrap();
}

/// A fresh temporary folder.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vz-copy-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A unique-enough name part.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}

db_test!(clears_and_drops_tables_children_first, |t| async move {
    fill(&t).await?;
    t.db().close().await;
    let all = Table::ALL;
    let cleared = Db::clear_tables(t.url(), &all, false).await?;
    assert_eq!(
        cleared,
        [
            Table::Aggregate,
            Table::Data,
            Table::EntitiesInAggregator,
            Table::Properties,
            Table::Entities
        ]
    );
    assert_eq!(common::counts(&t).await, [0; 5]);
    let dropped = Db::clear_tables(t.url(), &[Table::Data, Table::Aggregate], true).await?;
    assert_eq!(dropped, [Table::Aggregate, Table::Data]);
    assert!(matches!(
        Db::connect_existing(t.url()).await,
        Err(Error::IncompleteSchema { .. })
    ));
    let dropped = Db::clear_tables(t.url(), &all, true).await?;
    assert_eq!(dropped.len(), 3);
    // Empty again: the schema (with PostgreSQL's sequence) can be created anew.
    let db = t.connect().await?;
    assert_eq!(db.entity_references().await?, schema_references());
    db.create_entity(&power("fresh", "1")).await?;
    db.close().await;
    Ok::<_, Error>(())
});

db_test!(creates_and_drops_server_databases, |t| async move {
    if t.backend() == Backend::Sqlite {
        return Ok(());
    }
    // A sibling database on the same server, named after the test's own.
    let url = format!("{}_x", t.url().split('?').next().unwrap());
    assert!(Db::create_database(&url).await?);
    assert!(!Db::create_database(&url).await?);
    let db = Db::connect(&url).await?;
    db.create_entity(&power("x", "1")).await?;
    db.close().await;
    assert!(Db::drop_database(&url).await?);
    assert!(!Db::drop_database(&url).await?);
    Ok::<_, Error>(())
});

db_test!(
    key_groups_find_rows_appended_to_any_channel,
    |t| async move {
        fill(&t).await?;
        let db = t.db();
        assert!(db.key_groups(Table::Properties).await?.is_empty());
        let data = db.key_groups(Table::Data).await?;
        assert_eq!(data.len(), 2);
        let aggregate = db.key_groups(Table::Aggregate).await?;
        assert_eq!(aggregate.len(), 3, "one channel, three levels");
        assert!(aggregate.iter().all(|g| g.table() == Table::Aggregate));
        for group in aggregate {
            assert_eq!(db.count_rows_in(&group, None).await?, 10);
            let last = db.last_key_in(&group).await?.expect("rows");
            assert_eq!(db.count_rows_in(&group, Some(&last)).await?, 0);
        }
        // Readings appended to the first channel (the lower id) are found after its last key,
        // although they sort before the other channel's rows.
        let first = data[0];
        let last = db.last_key_in(&first).await?.expect("rows");
        let channel = db.entities().await?[0].id;
        db.insert_readings(
            channel,
            &[Reading {
                timestamp: 1_800_000_000_000,
                value: 1.0,
            }],
        )
        .await?;
        assert_eq!(db.count_rows_in(&first, Some(&last)).await?, 1);
        let page = db.read_page_in(&first, Some(&last), 10).await?;
        assert_eq!(page.lines(), [format!("{channel}|1800000000000|1.0")]);
        assert!(
            db.read_page_in(&first, page.last_key().as_ref(), 10)
                .await?
                .is_empty()
        );
        Ok::<_, Error>(())
    }
);
