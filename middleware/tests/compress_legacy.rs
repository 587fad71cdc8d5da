//! vz-compress's merge on the legacy schema variant (tools-and-schema §1.5: `data` with an
//! `id` primary key and a unique index over (channel_id, timestamp)) on every backend: the
//! merged readings get new ids from the database, the schema stays as it is.

mod common;

use common::power;
use middleware::testing::legacy_ddl;
use middleware::{Error, MergeFunction, Reading, SchemaVariant, WindowRun, db_test};

db_test!(empty merges_windows_on_the_legacy_schema, |t| async move {
    t.execute(legacy_ddl(t.backend())).await;
    let db = t.connect().await?;
    assert_eq!(db.variant(), SchemaVariant::Legacy);
    let channel = db.create_entity(&power("legacy", "1000")).await?;
    let readings: Vec<Reading> = (0..600)
        .map(|i| Reading {
            timestamp: 1_700_000_040_000 + i * 1000,
            value: 1.0,
        })
        .collect();
    db.insert_readings(channel.id, &readings).await?;
    let run = WindowRun {
        channel_id: channel.id,
        from: 1_700_000_040_000,
        to: 1_700_000_040_000 + 600_000,
        window: 60_000,
        function: MergeFunction::Sum,
    };
    let outcome = db.merge_windows(&run).await?;
    assert_eq!((outcome.merged_windows, outcome.removed), (10, 590));
    let after = db.readings(channel.id, i64::MIN, i64::MAX).await?;
    assert_eq!(after.len(), 10);
    assert!(after.iter().all(|r| r.value == 60.0));
    assert_eq!(db.merge_windows(&run).await?.merged_windows, 0);
    db.close().await;
    let again = t.connect().await?;
    assert_eq!(again.variant(), SchemaVariant::Legacy);
    again.close().await;
    Ok::<_, Error>(())
});
