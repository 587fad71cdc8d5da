//! Merging windows of readings (`Db::merge_windows`, vz-compress) on every backend: the value
//! per interpreter, the merged timestamp, what lies outside the run, re-runs, dry runs and
//! the aggregate rows of changed periods.

mod common;

use common::power;
use middleware::testing::TestDb;
use middleware::{Db, Error, MergeFunction, MergeOutcome, NewEntity, Reading, WindowRun, db_test};

const MIN: i64 = 60_000;
/// Start of the test runs: a multiple of a minute.
const T0: i64 = 1_700_000_040_000;

fn reading(timestamp: i64, value: f64) -> Reading {
    Reading { timestamp, value }
}

/// A channel of this type with the properties its type requires.
fn entity(kind: &str) -> NewEntity {
    let mut properties = vec![("title".into(), kind.into())];
    if kind != "temperature" {
        properties.push(("resolution".into(), "1000".into()));
    }
    NewEntity {
        kind: kind.into(),
        uuid: None,
        properties,
    }
}

/// Readings around a run of three minute windows starting at T0: one before the run, three
/// in window 0, one in window 1, two in window 2, one at the run's end (outside).
fn fixture() -> Vec<Reading> {
    vec![
        reading(T0 - 1, 100.0),
        reading(T0, 1.0),
        reading(T0 + 20_000, 2.0),
        reading(T0 + MIN - 1, 6.0),
        reading(T0 + MIN + 5_000, 7.0),
        reading(T0 + 2 * MIN + 1, 0.25),
        reading(T0 + 2 * MIN + 30_000, 0.5),
        reading(T0 + 3 * MIN, 200.0),
    ]
}

fn run(channel_id: i32, function: MergeFunction) -> WindowRun {
    WindowRun {
        channel_id,
        from: T0,
        to: T0 + 3 * MIN,
        window: MIN,
        function,
    }
}

async fn all(db: &Db, channel_id: i32) -> Vec<Reading> {
    db.readings(channel_id, i64::MIN, i64::MAX)
        .await
        .expect("reading back")
}

db_test!(merges_with_the_interpreters_function, |t| async move {
    let db = t.db();
    for (kind, function, merged) in [
        ("power", MergeFunction::Sum, [9.0, 0.75]),
        ("electric meter", MergeFunction::Max, [6.0, 0.5]),
        ("temperature", MergeFunction::Avg, [3.0, 0.375]),
    ] {
        let channel = db.create_entity(&entity(kind)).await?;
        db.insert_readings(channel.id, &fixture()).await?;
        let outcome = db.merge_windows(&run(channel.id, function)).await?;
        assert_eq!(
            outcome,
            MergeOutcome {
                readings: 6,
                windows: 3,
                merged_windows: 2,
                removed: 3,
                aggregate_rows_deleted: 0,
            },
            "{kind}"
        );
        assert_eq!(
            all(db, channel.id).await,
            [
                reading(T0 - 1, 100.0),
                // The merged reading keeps the window's newest timestamp.
                reading(T0 + MIN - 1, merged[0]),
                reading(T0 + MIN + 5_000, 7.0),
                reading(T0 + 2 * MIN + 30_000, merged[1]),
                reading(T0 + 3 * MIN, 200.0),
            ],
            "{kind}"
        );
    }
    Ok::<_, Error>(())
});

db_test!(impulse_sums_are_kept_exactly, |t| async move {
    let db = t.db();
    let channel = db.create_entity(&power("sum", "1000")).await?;
    // One reading a second for an hour, values that do not add up exactly in binary.
    let readings: Vec<Reading> = (0..3600)
        .map(|i| {
            reading(
                T0 + i * 1000,
                0.1 + f64::from(i32::try_from(i % 7).unwrap()),
            )
        })
        .collect();
    db.insert_readings(channel.id, &readings).await?;
    let before: f64 = all(db, channel.id).await.iter().map(|r| r.value).sum();
    let outcome = db
        .merge_windows(&WindowRun {
            to: T0 + 60 * MIN,
            ..run(channel.id, MergeFunction::Sum)
        })
        .await?;
    assert_eq!(
        (outcome.readings, outcome.merged_windows, outcome.removed),
        (3600, 60, 3540)
    );
    let after = all(db, channel.id).await;
    assert_eq!(after.len(), 60);
    let sum: f64 = after.iter().map(|r| r.value).sum();
    assert!((sum - before).abs() < 1e-9, "{sum} != {before}");
    Ok::<_, Error>(())
});

db_test!(a_second_merge_changes_nothing, |t| async move {
    let db = t.db();
    let channel = db.create_entity(&power("again", "1000")).await?;
    db.insert_readings(channel.id, &fixture()).await?;
    db.merge_windows(&run(channel.id, MergeFunction::Sum))
        .await?;
    let once = all(db, channel.id).await;
    let again = db
        .merge_windows(&run(channel.id, MergeFunction::Sum))
        .await?;
    assert_eq!(
        (
            again.readings,
            again.windows,
            again.merged_windows,
            again.removed
        ),
        (3, 3, 0, 0)
    );
    assert_eq!(all(db, channel.id).await, once);
    Ok::<_, Error>(())
});

db_test!(planning_changes_nothing, |t| async move {
    let db = t.db();
    let channel = db.create_entity(&power("plan", "1000")).await?;
    db.insert_readings(channel.id, &fixture()).await?;
    let planned = db.plan_merge(&run(channel.id, MergeFunction::Sum)).await?;
    assert_eq!(all(db, channel.id).await, fixture());
    let merged = db
        .merge_windows(&run(channel.id, MergeFunction::Sum))
        .await?;
    assert_eq!(planned, merged);
    Ok::<_, Error>(())
});

db_test!(
    a_run_cut_short_leaves_the_rest_of_its_last_window,
    |t| async move {
        let db = t.db();
        let channel = db.create_entity(&power("cut", "1000")).await?;
        db.insert_readings(channel.id, &fixture()).await?;
        // Ends 30 s into window 2: its second reading (at +30 s) is outside.
        let outcome = db
            .merge_windows(&WindowRun {
                to: T0 + 2 * MIN + 30_000,
                ..run(channel.id, MergeFunction::Sum)
            })
            .await?;
        assert_eq!((outcome.readings, outcome.merged_windows), (5, 1));
        let after = all(db, channel.id).await;
        assert!(after.contains(&reading(T0 + 2 * MIN + 1, 0.25)));
        assert!(after.contains(&reading(T0 + 2 * MIN + 30_000, 0.5)));
        Ok::<_, Error>(())
    }
);

db_test!(only_the_channel_is_touched, |t| async move {
    let db = t.db();
    let channel = db.create_entity(&power("one", "1000")).await?;
    let other = db.create_entity(&power("other", "1000")).await?;
    db.insert_readings(channel.id, &fixture()).await?;
    db.insert_readings(other.id, &fixture()).await?;
    db.merge_windows(&run(channel.id, MergeFunction::Sum))
        .await?;
    assert_eq!(all(db, other.id).await, fixture());
    Ok::<_, Error>(())
});

/// Inserts aggregate rows (type, timestamp) for a channel, bypassing the crate.
async fn insert_aggregates(t: &TestDb, channel_id: i32, rows: &[(i16, i64)]) {
    let mut script = String::new();
    for (kind, timestamp) in rows {
        let quote = if t.backend() == middleware::Backend::MySql {
            '`'
        } else {
            '"'
        };
        script.push_str(&format!(
            "INSERT INTO aggregate (channel_id, {quote}type{quote}, {quote}timestamp{quote}, {quote}value{quote}, {quote}count{quote}) VALUES ({channel_id}, {kind}, {timestamp}, 1, 1);"
        ));
    }
    t.execute(&script).await;
}

/// The (type, timestamp) of a channel's aggregate rows, sorted.
async fn aggregates(t: &TestDb, channel_id: i32) -> Vec<(i16, i64)> {
    let pool = common::raw(t).await;
    let sql = if t.backend() == middleware::Backend::MySql {
        format!(
            "SELECT `type`, `timestamp` FROM aggregate WHERE channel_id = {channel_id} ORDER BY 1, 2"
        )
    } else {
        format!(
            r#"SELECT "type", "timestamp" FROM aggregate WHERE channel_id = {channel_id} ORDER BY 1, 2"#
        )
    };
    let rows: Vec<(i16, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(&pool)
        .await
        .expect("reading aggregates");
    pool.close().await;
    rows
}

db_test!(
    aggregate_rows_of_changed_periods_are_deleted,
    |t| async move {
        let db = t.db();
        let channel = db.create_entity(&power("agg", "1000")).await?;
        let other = db.create_entity(&power("other", "1000")).await?;
        db.insert_readings(channel.id, &fixture()).await?;
        let hour = 60 * MIN;
        let day = 24 * hour;
        // Merged windows: 0 and 2, i.e. [T0, T0 + 3 min).
        let rows = [
            (0, T0 - 1),                // just before: its newest reading predates the change
            (0, T0 + 5),                // a second inside: stale
            (0, T0 + 3 * MIN + 1), // just after: deleted too (at most one period per level more)
            (1, T0 + 2 * MIN + 30_000), // minute of window 2: stale
            (2, T0 + 50 * MIN),    // the hour holding the change (timestamp = newest reading)
            (2, T0 + 3 * hour),    // a later hour: kept
            (3, T0 + 20 * hour),   // the day holding the change: stale
            (3, T0 + 2 * day),     // a later day: kept
            (5, T0 + 20 * day),    // the month: stale
            (6, T0 - day),         // the year, but its newest reading is older: period ended
        ];
        insert_aggregates(&t, channel.id, &rows).await;
        insert_aggregates(&t, other.id, &rows).await;
        let outcome = db
            .merge_windows(&run(channel.id, MergeFunction::Sum))
            .await?;
        assert_eq!(outcome.aggregate_rows_deleted, 6);
        assert_eq!(
            aggregates(&t, channel.id).await,
            [
                (0, T0 - 1),
                (2, T0 + 3 * hour),
                (3, T0 + 2 * day),
                (6, T0 - day)
            ]
        );
        assert_eq!(aggregates(&t, other.id).await.len(), rows.len());

        // Nothing merged, nothing deleted.
        insert_aggregates(&t, channel.id, &[(0, T0 + 5)]).await;
        let again = db
            .merge_windows(&run(channel.id, MergeFunction::Sum))
            .await?;
        assert_eq!(again.aggregate_rows_deleted, 0);
        assert_eq!(aggregates(&t, channel.id).await.len(), 5);
        Ok::<_, Error>(())
    }
);

db_test!(reading_spans, |t| async move {
    let db = t.db();
    let channel = db.create_entity(&power("span", "1000")).await?;
    assert_eq!(db.reading_span(channel.id, i64::MIN, i64::MAX).await?, None);
    db.insert_readings(channel.id, &fixture()).await?;
    let span = db
        .reading_span(channel.id, T0, T0 + 3 * MIN)
        .await?
        .expect("readings");
    assert_eq!(
        (span.first, span.last, span.count),
        (T0, T0 + 2 * MIN + 30_000, 6)
    );
    Ok::<_, Error>(())
});
