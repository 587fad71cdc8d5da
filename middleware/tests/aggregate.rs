//! Aggregation on every backend: the verified vectors of tools-and-schema §2.11 (with the
//! corrected first sensor bucket), replacement of re-aggregated periods, local calendars
//! across DST, the run lock, clearing and rebuilding.

mod common;

use std::collections::BTreeMap;

use common::{group, power};
use jiff::tz::TimeZone;
use middleware::{
    AggregateError, AggregateRow, Aggregation, Backend, ClearFilter, Db, Entity, Level, Mode,
    NewEntity, Reading, db_test,
};

/// tools-and-schema §2.11: 2024-05-15 10:30:00 CEST.
const NOW: i64 = 1_715_761_800_000;
const HOUR: i64 = 3_600_000;

fn berlin() -> TimeZone {
    TimeZone::get("Europe/Berlin").unwrap()
}

/// Unix ms of a local time in Europe/Berlin, e.g. `2024-05-13 18:00`.
fn local(text: &str) -> i64 {
    let civil: jiff::civil::DateTime = text.replace(' ', "T").parse().unwrap();
    civil
        .to_zoned(berlin())
        .unwrap()
        .timestamp()
        .as_millisecond()
}

/// Unix ms of an RFC 3339 instant.
fn utc(text: &str) -> i64 {
    text.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn entity(kind: &str, resolution: Option<&str>) -> NewEntity {
    let mut properties = vec![("title".to_owned(), kind.to_owned())];
    if let Some(resolution) = resolution {
        properties.push(("resolution".to_owned(), resolution.to_owned()));
    }
    NewEntity {
        kind: kind.to_owned(),
        uuid: None,
        properties,
    }
}

async fn insert(db: &Db, channel: &Entity, rows: &[(i64, f64)]) {
    let readings: Vec<Reading> = rows
        .iter()
        .map(|&(timestamp, value)| Reading { timestamp, value })
        .collect();
    db.insert_readings(channel.id, &readings).await.unwrap();
}

/// A run in Europe/Berlin at the pinned now.
fn run(levels: &[Level], mode: Mode) -> Aggregation {
    Aggregation::new(levels, mode, berlin(), NOW).unwrap()
}

/// The rows of one level as (timestamp, value, count), values rounded to 1e-9.
async fn rows(db: &Db, channel: &Entity, level: Level) -> Vec<(i64, f64, i64)> {
    db.aggregates(channel.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|row| row.type_id == level.type_id())
        .map(|row| (row.timestamp, round(row.value), row.count))
        .collect()
}

fn round(value: f64) -> f64 {
    (value * 1e9).round() / 1e9
}

db_test!(vector_a_aggregation_test_replica, |t| async move {
    let db = t.db();
    let one = db.create_entity(&power("one", "100")).await?;
    let day = |mode| run(&[Level::Day], mode);

    // 1. Only "today 0:00": the current day is never written.
    insert(db, &one, &[(1_715_724_000_000, 50.0)]).await;
    let report = db.aggregate_channel(&one, &day(Mode::Delta)).await.unwrap();
    assert_eq!(report.periods_written(), 0);

    // 2. Two days of two rows each.
    insert(
        db,
        &one,
        &[
            (1_715_551_200_000, 100.0),
            (1_715_594_400_000, 100.0),
            (1_715_637_600_000, 100.0),
            (1_715_680_800_000, 100.0),
        ],
    )
    .await;
    let report = db.aggregate_channel(&one, &day(Mode::Delta)).await.unwrap();
    assert_eq!(report.written, [(Level::Day, 2)]);
    assert_eq!(report.rows_read, 4);
    let two_days = vec![(1_715_594_400_000, 200.0, 2), (1_715_680_800_000, 200.0, 2)];
    assert_eq!(rows(db, &one, Level::Day).await, two_days);

    // 3. An older row is not picked up by delta.
    insert(db, &one, &[(1_715_464_800_000, 50.0)]).await;
    db.aggregate_channel(&one, &day(Mode::Delta)).await.unwrap();
    assert_eq!(rows(db, &one, Level::Day).await, two_days);

    // 4. A second channel.
    let two = db.create_entity(&power("two", "100")).await?;
    insert(db, &two, &[(1_715_637_600_000, 100.0)]).await;
    db.aggregate_channel(&two, &day(Mode::Delta)).await.unwrap();
    assert_eq!(
        rows(db, &two, Level::Day).await,
        [(1_715_637_600_000, 100.0, 1)]
    );

    // 5. Clear channel one, then delta from scratch.
    let cleared = db
        .clear_aggregates(&ClearFilter {
            channels: Some(vec![one.id]),
            ..ClearFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(cleared, Some(2));
    assert!(rows(db, &one, Level::Day).await.is_empty());
    db.aggregate_channel(&one, &day(Mode::Delta)).await.unwrap();
    let three_days = vec![
        (1_715_464_800_000, 50.0, 1),
        (1_715_594_400_000, 200.0, 2),
        (1_715_680_800_000, 200.0, 2),
    ];
    assert_eq!(rows(db, &one, Level::Day).await, three_days);

    // 6. Hours: one row per raw row, including today 0:00 (the current hour is 10:00).
    db.aggregate_channel(&one, &run(&[Level::Hour], Mode::Delta))
        .await
        .unwrap();
    assert_eq!(
        rows(db, &one, Level::Hour).await,
        [
            (1_715_464_800_000, 50.0, 1),
            (1_715_551_200_000, 100.0, 1),
            (1_715_594_400_000, 100.0, 1),
            (1_715_637_600_000, 100.0, 1),
            (1_715_680_800_000, 100.0, 1),
            (1_715_724_000_000, 50.0, 1),
        ]
    );

    // 7. Full rewrites the same rows; two periods rewrite two; clearing hours.
    let report = db.aggregate_channel(&one, &day(Mode::Full)).await.unwrap();
    assert_eq!(report.written, [(Level::Day, 3)]);
    assert_eq!(rows(db, &one, Level::Day).await, three_days);
    let report = db
        .aggregate_channel(&one, &day(Mode::Periods(2)))
        .await
        .unwrap();
    assert_eq!(report.written, [(Level::Day, 2)]);
    assert_eq!(rows(db, &one, Level::Day).await, three_days);
    db.clear_aggregates(&ClearFilter {
        levels: Some(vec![Level::Hour]),
        ..ClearFilter::default()
    })
    .await
    .unwrap();
    assert!(rows(db, &one, Level::Hour).await.is_empty());
    assert_eq!(rows(db, &one, Level::Day).await, three_days);
    Ok::<_, middleware::Error>(())
});

/// §2.11 B: temperature channel 3 and electric meter channel 4.
async fn vector_b_channels(db: &Db) -> (Entity, Entity) {
    let sensor = db
        .create_entity(&entity("temperature", None))
        .await
        .unwrap();
    let meter = db
        .create_entity(&entity("electric meter", Some("100")))
        .await
        .unwrap();
    insert(
        db,
        &sensor,
        &[
            (local("2024-05-13 00:00"), 10.0),
            (local("2024-05-13 06:00"), 20.0),
            (local("2024-05-13 12:00"), 30.0),
            (local("2024-05-13 18:00"), 40.0),
            (local("2024-05-14 00:00"), 50.0),
            (local("2024-05-14 12:00"), 60.0),
            (local("2024-05-15 06:00"), 70.0),
        ],
    )
    .await;
    insert(
        db,
        &meter,
        &[
            (local("2024-05-13 00:00"), 1000.0),
            (local("2024-05-13 12:00"), 1010.0),
            (local("2024-05-14 00:00"), 1030.0),
            (local("2024-05-14 12:00"), 1060.0),
            (local("2024-05-15 06:00"), 1100.0),
        ],
    )
    .await;
    (sensor, meter)
}

db_test!(vector_b_sensor_and_meter, |t| async move {
    let db = t.db();
    let (sensor, meter) = vector_b_channels(db).await;
    let group = db.create_entity(&group("house")).await?;

    let full = run(&[Level::Day], Mode::Full);
    db.aggregate_channel(&sensor, &full).await.unwrap();
    let sensor_days = vec![
        // The first bucket weighted over its own rows: 30, not volkszaehler's 0.00113.
        (1_715_616_000_000, 30.0, 4),
        (1_715_680_800_000, round(1020.0 / 18.0), 2),
    ];
    assert_eq!(rows(db, &sensor, Level::Day).await, sensor_days);
    db.aggregate_channel(&meter, &full).await.unwrap();
    assert_eq!(
        rows(db, &meter, Level::Day).await,
        [
            (1_715_594_400_000, 1010.0, 2),
            (1_715_680_800_000, 1060.0, 2)
        ]
    );
    let report = db.aggregate_channel(&group, &full).await.unwrap();
    assert!(report.skipped);

    // Delta from an empty table, run on 05-14 and then on 05-15, gives the same rows.
    db.clear_aggregates(&ClearFilter::default()).await.unwrap();
    let on_14th = Aggregation::new(&[Level::Day], Mode::Delta, berlin(), NOW - 86_400_000)?;
    db.aggregate_channel(&sensor, &on_14th).await.unwrap();
    assert_eq!(rows(db, &sensor, Level::Day).await, sensor_days[..1]);
    db.aggregate_channel(&sensor, &run(&[Level::Day], Mode::Delta))
        .await
        .unwrap();
    assert_eq!(rows(db, &sensor, Level::Day).await, sensor_days);

    // Hours: seven single-row buckets whose value is the raw value.
    db.aggregate_channel(&sensor, &run(&[Level::Hour], Mode::Full))
        .await
        .unwrap();
    let hours: Vec<f64> = rows(db, &sensor, Level::Hour)
        .await
        .into_iter()
        .map(|(_, value, count)| {
            assert_eq!(count, 1);
            value
        })
        .collect();
    assert_eq!(hours, [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0]);
    Ok::<_, AggregateError>(())
});

db_test!(vector_c_late_data_replaces_the_period, |t| async move {
    let db = t.db();
    let channel = db.create_entity(&power("late", "1000")).await?;
    insert(
        db,
        &channel,
        &[
            (local("2024-05-13 06:00"), 1.0),
            (local("2024-05-13 12:00"), 1.0),
            (local("2024-05-14 12:00"), 1.0),
        ],
    )
    .await;
    let day = |mode| run(&[Level::Day], mode);
    db.aggregate_channel(&channel, &day(Mode::Full))
        .await
        .unwrap();
    assert_eq!(
        rows(db, &channel, Level::Day).await,
        [
            (local("2024-05-13 12:00"), 2.0, 2),
            (local("2024-05-14 12:00"), 1.0, 1)
        ]
    );

    insert(db, &channel, &[(local("2024-05-13 18:00"), 1.0)]).await;
    let report = db
        .aggregate_channel(&channel, &day(Mode::Delta))
        .await
        .unwrap();
    assert_eq!(report.periods_written(), 0, "delta does not look back");

    let expected = vec![
        (local("2024-05-13 18:00"), 3.0, 3),
        (local("2024-05-14 12:00"), 1.0, 1),
    ];
    db.aggregate_channel(&channel, &day(Mode::Periods(2)))
        .await
        .unwrap();
    assert_eq!(rows(db, &channel, Level::Day).await, expected);
    db.aggregate_channel(&channel, &day(Mode::Full))
        .await
        .unwrap();
    assert_eq!(
        rows(db, &channel, Level::Day).await,
        expected,
        "exactly one row per period"
    );
    Ok::<_, middleware::Error>(())
});

/// Readings every 30 minutes, value 1, from `from` to `to` (RFC 3339, inclusive).
fn half_hourly(from: &str, to: &str) -> Vec<(i64, f64)> {
    (utc(from)..=utc(to))
        .step_by(1_800_000)
        .map(|ts| (ts, 1.0))
        .collect()
}

db_test!(dst_periods_follow_the_local_calendar, |t| async move {
    let db = t.db();
    let channel = db.create_entity(&power("dst", "1000")).await?;
    // Spring: 2024-03-31 01:00Z, 02:00 CET becomes 03:00 CEST.
    let spring = half_hourly("2024-03-30T22:00:00Z", "2024-03-31T02:30:00Z");
    // Autumn: 2024-10-27 01:00Z, 03:00 CEST becomes 02:00 CET.
    let autumn = half_hourly("2024-10-26T22:00:00Z", "2024-10-27T03:30:00Z");
    insert(db, &channel, &spring).await;
    insert(db, &channel, &autumn).await;
    let now = utc("2024-12-01T00:00:00Z");
    let both = [Level::Hour, Level::Day];

    let berlin_run = Aggregation::new(&both, Mode::Full, berlin(), now)?;
    db.aggregate_channel(&channel, &berlin_run).await.unwrap();
    let hours = rows(db, &channel, Level::Hour).await;
    let spring_hours: Vec<_> = hours
        .iter()
        .filter(|row| row.0 < utc("2024-06-01T00:00:00Z"))
        .cloned()
        .collect();
    assert_eq!(
        spring_hours,
        [
            // Local 23:00 and 00:00 CET, 01:00 CET; no 02:00; 03:00 and 04:00 CEST.
            (utc("2024-03-30T22:30:00Z"), 2.0, 2),
            (utc("2024-03-30T23:30:00Z"), 2.0, 2),
            (utc("2024-03-31T00:30:00Z"), 2.0, 2),
            (utc("2024-03-31T01:30:00Z"), 2.0, 2),
            (utc("2024-03-31T02:30:00Z"), 2.0, 2),
        ]
    );
    let autumn_hours: Vec<_> = hours
        .iter()
        .filter(|row| row.0 > utc("2024-06-01T00:00:00Z"))
        .cloned()
        .collect();
    assert_eq!(
        autumn_hours,
        [
            // Local 00:00 and 01:00 CEST; the doubled 02:00 is one period of four rows;
            // 03:00, 04:00 CET.
            (utc("2024-10-26T22:30:00Z"), 2.0, 2),
            (utc("2024-10-26T23:30:00Z"), 2.0, 2),
            (utc("2024-10-27T01:30:00Z"), 4.0, 4),
            (utc("2024-10-27T02:30:00Z"), 2.0, 2),
            (utc("2024-10-27T03:30:00Z"), 2.0, 2),
        ]
    );
    assert_eq!(
        rows(db, &channel, Level::Day).await,
        [
            // 03-30 local ends at 23:00Z; 03-31 holds the rest.
            (utc("2024-03-30T22:30:00Z"), 2.0, 2),
            (utc("2024-03-31T02:30:00Z"), 8.0, 8),
            // 10-27 local starts at 10-26 22:00Z.
            (utc("2024-10-27T03:30:00Z"), 12.0, 12),
        ]
    );

    // The same data in UTC: plain UTC hours and days.
    let utc_run = Aggregation::new(&both, Mode::Full, TimeZone::UTC, now)?;
    db.aggregate_channel(&channel, &utc_run).await.unwrap();
    let hours = rows(db, &channel, Level::Hour).await;
    assert_eq!(hours.len(), 5 + 6);
    assert!(
        hours
            .iter()
            .all(|&(ts, value, count)| { value == count as f64 && (ts % HOUR == 1_800_000) })
    );
    assert_eq!(
        rows(db, &channel, Level::Day).await,
        [
            (utc("2024-03-30T23:30:00Z"), 4.0, 4),
            (utc("2024-03-31T02:30:00Z"), 6.0, 6),
            (utc("2024-10-26T23:30:00Z"), 4.0, 4),
            (utc("2024-10-27T03:30:00Z"), 8.0, 8),
        ]
    );
    Ok::<_, AggregateError>(())
});

/// What a bucket should hold, computed the slow way from the raw rows.
fn reference(
    readings: &[(i64, f64)],
    key: impl Fn(i64) -> (i16, i16, i8, i8, i8),
    sensor: bool,
) -> Vec<(i64, f64, i64)> {
    let mut buckets: BTreeMap<_, (i64, f64, f64, i64, f64, i64)> = BTreeMap::new();
    let mut previous: Option<i64> = None;
    for &(ts, value) in readings {
        let bucket = buckets
            .entry(key(ts))
            .or_insert((ts, 0.0, f64::MIN, 0, 0.0, 0));
        bucket.0 = ts;
        bucket.1 += value;
        bucket.2 = bucket.2.max(value);
        bucket.3 += 1;
        if let Some(previous) = previous {
            bucket.4 += value * (ts - previous) as f64;
            bucket.5 += ts - previous;
        }
        previous = Some(ts);
    }
    buckets
        .into_values()
        .map(|(last, sum, _max, count, weighted, covered)| {
            let value = if !sensor {
                sum
            } else if covered > 0 {
                weighted / covered as f64
            } else {
                sum / count as f64
            };
            (last, round(value), count)
        })
        .collect()
}

db_test!(long_ranges_match_a_reference_in_chunks, |t| async move {
    let db = t.db();
    let impulse = db.create_entity(&power("long", "1000")).await?;
    let sensor = db.create_entity(&entity("temperature", None)).await?;
    // 500 days with irregular gaps, across four DST changes, so the scan runs in many
    // chunks and stretches.
    let mut readings = Vec::new();
    let mut ts = utc("2023-01-01T00:00:00Z");
    let mut step = 0_i64;
    while ts < utc("2024-05-15T00:00:00Z") {
        readings.push((ts, (step % 17) as f64 - 3.5));
        step += 1;
        ts += 1_000 * (600 + (step * 7919) % 20_000);
    }
    insert(db, &impulse, &readings).await;
    insert(db, &sensor, &readings).await;

    let levels = [Level::Hour, Level::Day, Level::Month, Level::Year];
    for (channel, is_sensor) in [(&impulse, false), (&sensor, true)] {
        let report = db
            .aggregate_channel(channel, &run(&levels, Mode::Full))
            .await
            .unwrap();
        assert_eq!(report.rows_read as usize, readings.len());
        let context = format!("sensor: {is_sensor}");
        assert_matches_reference(db, channel, &readings, is_sensor, &levels, &context).await;
    }
    Ok::<_, middleware::Error>(())
});

db_test!(lock_refuses_a_second_run, |t| async move {
    let db = t.db();
    let lock = db.lock_aggregation().await.unwrap();
    let other = t.connect().await?;
    match other.lock_aggregation().await {
        Err(AggregateError::Locked { holder }) => assert!(!holder.is_empty()),
        result => panic!("expected Locked, got {result:?}"),
    }
    lock.release().await.unwrap();
    let again = other.lock_aggregation().await.unwrap();
    again.release().await.unwrap();
    // Dropping releases too, once the server notices the closed session.
    drop(db.lock_aggregation().await.unwrap());
    let mut attempts = 0;
    let lock = loop {
        match other.lock_aggregation().await {
            Err(AggregateError::Locked { .. }) if attempts < 50 => attempts += 1,
            result => break result.unwrap(),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    lock.release().await.unwrap();
    other.close().await;
    Ok::<_, middleware::Error>(())
});

db_test!(clear_combines_channels_levels_and_since, |t| async move {
    let db = t.db();
    let one = db.create_entity(&power("one", "100")).await?;
    let two = db.create_entity(&power("two", "100")).await?;
    let rows_at = [
        (local("2024-05-12 08:00"), 1.0),
        (local("2024-05-13 08:00"), 1.0),
        (local("2024-05-14 08:00"), 1.0),
    ];
    insert(db, &one, &rows_at).await;
    insert(db, &two, &rows_at).await;
    let both = run(&[Level::Hour, Level::Day], Mode::Full);
    let count = |rows: Vec<AggregateRow>, level: Level| {
        rows.iter()
            .filter(|row| row.type_id == level.type_id())
            .count()
    };
    for channel in [&one, &two] {
        db.aggregate_channel(channel, &both).await.unwrap();
    }
    // Channel one, days, since 05-13: one row goes.
    let removed = db
        .clear_aggregates(&ClearFilter {
            channels: Some(vec![one.id]),
            levels: Some(vec![Level::Day]),
            since: Some(local("2024-05-13 00:00")),
        })
        .await
        .unwrap();
    assert_eq!(removed, Some(2));
    assert_eq!(count(db.aggregates(one.id).await.unwrap(), Level::Day), 1);
    assert_eq!(count(db.aggregates(one.id).await.unwrap(), Level::Hour), 3);
    assert_eq!(count(db.aggregates(two.id).await.unwrap(), Level::Day), 3);
    // All channels, every level, since 05-14.
    let removed = db
        .clear_aggregates(&ClearFilter {
            since: Some(local("2024-05-14 00:00")),
            ..ClearFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(removed, Some(3));
    assert_eq!(db.aggregates(two.id).await.unwrap().len(), 4);
    Ok::<_, middleware::Error>(())
});

db_test!(rebuild_keeps_only_the_requested_levels, |t| async move {
    let db = t.db();
    let channel = db.create_entity(&power("rebuild", "100")).await?;
    insert(
        db,
        &channel,
        &[
            (local("2024-05-13 08:00"), 1.0),
            (local("2024-05-14 08:00"), 2.0),
        ],
    )
    .await;
    db.aggregate_channel(&channel, &run(&[Level::Hour, Level::Day], Mode::Full))
        .await
        .unwrap();
    db.aggregate_channel(&channel, &run(&[Level::Day], Mode::Rebuild))
        .await
        .unwrap();
    let rows = db.aggregates(channel.id).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|row| row.type_id == Level::Day.type_id()));
    Ok::<_, middleware::Error>(())
});

db_test!(inserts_proceed_while_a_run_reads, |t| async move {
    let db = t.db().clone();
    let channel = db.create_entity(&power("busy", "1000")).await?;
    let start = utc("2024-05-01T00:00:00Z");
    let readings: Vec<(i64, f64)> = (0..200_000).map(|i| (start + i * 1000, 1.0)).collect();
    insert(&db, &channel, &readings).await;
    let full = run(&[Level::Minute, Level::Hour, Level::Day], Mode::Full);
    let task = {
        let db = db.clone();
        let channel = channel.clone();
        tokio::spawn(async move { db.aggregate_channel(&channel, &full).await })
    };
    let mut inserted = 0;
    let mut ts = NOW + HOUR;
    while !task.is_finished() {
        let started = std::time::Instant::now();
        db.insert_reading(channel.id, ts, 1.0).await?;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "insert waited"
        );
        inserted += 1;
        ts += 1000;
    }
    let report = task.await.unwrap().unwrap();
    assert_eq!(report.rows_read, 200_000);
    assert!(inserted > 0);
    Ok::<_, middleware::Error>(())
});

#[test]
fn levels_must_be_aggregatable() {
    assert!(matches!(
        Aggregation::new(&[Level::Week], Mode::Delta, TimeZone::UTC, NOW),
        Err(AggregateError::Unsupported(_))
    ));
    assert!(Aggregation::new(&[], Mode::Delta, TimeZone::UTC, NOW).is_err());
}

/// The legacy `aggregate` table (tools-and-schema §1.5), replacing the current one.
fn legacy_aggregate(backend: Backend) -> &'static str {
    match backend {
        Backend::MySql => "DROP TABLE aggregate;
            CREATE TABLE aggregate (id INT AUTO_INCREMENT NOT NULL, channel_id INT NOT NULL,
              type SMALLINT DEFAULT NULL, timestamp BIGINT DEFAULT NULL, value DOUBLE PRECISION DEFAULT NULL,
              count INT DEFAULT NULL, INDEX IDX_B77949FF72F5A1AA (channel_id),
              UNIQUE INDEX aggregate_unique (channel_id, type, timestamp), PRIMARY KEY(id))
              DEFAULT CHARACTER SET utf8 COLLATE utf8_unicode_ci ENGINE = InnoDB;
            ALTER TABLE aggregate ADD CONSTRAINT FK_B77949FF72F5A1AA FOREIGN KEY (channel_id) REFERENCES entities (id)",
        Backend::Postgres => r#"DROP TABLE aggregate;
            CREATE SEQUENCE aggregate_id_seq INCREMENT BY 1 MINVALUE 1 START 1;
            CREATE TABLE aggregate (id INT NOT NULL, channel_id INT NOT NULL, type SMALLINT DEFAULT NULL,
              "timestamp" BIGINT DEFAULT NULL, value DOUBLE PRECISION DEFAULT NULL, count INT DEFAULT NULL,
              PRIMARY KEY(id));
            CREATE INDEX IDX_B77949FF72F5A1AA ON aggregate (channel_id);
            CREATE UNIQUE INDEX aggregate_unique ON aggregate (channel_id, type, "timestamp");
            ALTER TABLE aggregate ADD CONSTRAINT FK_B77949FF72F5A1AA FOREIGN KEY (channel_id) REFERENCES entities (id)"#,
        _ => r#"DROP TABLE aggregate;
            CREATE TABLE aggregate (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, channel_id INTEGER NOT NULL,
              type SMALLINT DEFAULT NULL, "timestamp" BIGINT DEFAULT NULL, value DOUBLE PRECISION DEFAULT NULL,
              count INTEGER DEFAULT NULL,
              CONSTRAINT FK_B77949FF72F5A1AA FOREIGN KEY (channel_id) REFERENCES entities (id));
            CREATE INDEX IDX_B77949FF72F5A1AA ON aggregate (channel_id);
            CREATE UNIQUE INDEX aggregate_unique ON aggregate (channel_id, type, "timestamp")"#,
    }
}

db_test!(writes_the_legacy_table_with_its_id, |t| async move {
    t.execute(legacy_aggregate(t.backend())).await;
    let db = t.connect().await?;
    assert_eq!(db.variant(), middleware::SchemaVariant::Legacy);
    let channel = db.create_entity(&power("legacy", "100")).await?;
    insert(
        &db,
        &channel,
        &[
            (local("2024-05-13 08:00"), 1.0),
            (local("2024-05-14 08:00"), 2.0),
        ],
    )
    .await;
    for _ in 0..2 {
        db.aggregate_channel(&channel, &run(&[Level::Hour, Level::Day], Mode::Full))
            .await
            .unwrap();
    }
    assert_eq!(
        rows(&db, &channel, Level::Day).await,
        [
            (local("2024-05-13 08:00"), 1.0, 1),
            (local("2024-05-14 08:00"), 2.0, 1)
        ]
    );
    assert_eq!(db.aggregates(channel.id).await.unwrap().len(), 4);
    db.close().await;
    Ok::<_, middleware::Error>(())
});

db_test!(mysql_grouping_agrees_for_fixed_offsets, |t| async move {
    if t.backend() != Backend::MySql {
        return Ok(());
    }
    // MySQL's own grouping (§2.2) in a session time zone, against ours in the same zone.
    let db = t.db();
    let channel = db.create_entity(&power("mysql", "100")).await?;
    let readings = half_hourly("2024-05-12T20:00:00Z", "2024-05-14T20:00:00Z");
    insert(db, &channel, &readings).await;
    let pool = common::raw(&t).await;
    for (zone, offset) in [("+00:00", 0), ("+02:00", 2)] {
        let tz = TimeZone::fixed(jiff::tz::offset(offset));
        let full = Aggregation::new(&[Level::Hour, Level::Day], Mode::Full, tz, NOW)?;
        db.aggregate_channel(&channel, &full).await.unwrap();
        let mut conn = pool.acquire().await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SET time_zone = '{zone}'")))
            .execute(&mut *conn)
            .await
            .unwrap();
        for (level, fields) in [
            (Level::Hour, "YEAR(t), DAYOFYEAR(t), HOUR(t)"),
            (Level::Day, "YEAR(t), DAYOFYEAR(t)"),
        ] {
            let sql = format!(
                "SELECT MAX(ts), COUNT(*), SUM(v) FROM (SELECT `timestamp` AS ts, `value` AS v, \
                 FROM_UNIXTIME(`timestamp` / 1000) AS t FROM data WHERE channel_id = {} \
                 AND `timestamp` < UNIX_TIMESTAMP(DATE_FORMAT(FROM_UNIXTIME({}), '{}')) * 1000) AS r \
                 GROUP BY {fields} ORDER BY 1",
                channel.id,
                NOW / 1000,
                if level == Level::Hour {
                    "%Y-%m-%d %H:00:00"
                } else {
                    "%Y-%m-%d"
                },
            );
            let expected: Vec<(i64, f64, i64)> =
                sqlx::query_as::<_, (i64, i64, f64)>(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|(ts, count, sum)| (ts, sum, count))
                    .collect();
            assert!(!expected.is_empty());
            assert_eq!(
                rows(db, &channel, level).await,
                expected,
                "{level} in {zone}"
            );
        }
    }
    pool.close().await;
    Ok::<_, AggregateError>(())
});

/// Every level's rows of `channel` against [`reference`] over `readings` (Europe/Berlin).
async fn assert_matches_reference(
    db: &Db,
    channel: &Entity,
    readings: &[(i64, f64)],
    sensor: bool,
    levels: &[Level],
    context: &str,
) {
    let tz = berlin();
    let civil = |ts: i64| tz.to_datetime(jiff::Timestamp::from_millisecond(ts).unwrap());
    let mut readings = readings.to_vec();
    readings.sort_by_key(|&(ts, _)| ts);
    for &level in levels {
        let key = |ts: i64| {
            let dt = civil(ts);
            match level {
                Level::Hour => (dt.year(), dt.day_of_year(), dt.hour(), 0, 0),
                Level::Day => (dt.year(), dt.day_of_year(), 0, 0, 0),
                Level::Month => (dt.year(), 0, dt.month(), 0, 0),
                _ => (dt.year(), 0, 0, 0, 0),
            }
        };
        let current = key(NOW);
        let complete: Vec<_> = readings
            .iter()
            .copied()
            .filter(|&(ts, _)| key(ts) < current)
            .collect();
        let actual = rows(db, channel, level).await;
        let mut expected = reference(&complete, key, sensor);
        if channel.kind == "electric meter" {
            // Meter readings: the greatest value, not the sum.
            let mut max: BTreeMap<_, f64> = BTreeMap::new();
            for &(ts, value) in &complete {
                let entry = max.entry(key(ts)).or_insert(f64::MIN);
                *entry = entry.max(value);
            }
            for (bucket, max) in expected.iter_mut().zip(max.values()) {
                bucket.1 = round(*max);
            }
        }
        assert_eq!(actual.len(), expected.len(), "{context}: {level}");
        for (actual, expected) in actual.iter().zip(&expected) {
            assert_eq!(
                (actual.0, actual.2),
                (expected.0, expected.2),
                "{context}: {level}"
            );
            assert!(
                (actual.1 - expected.1).abs() < 1e-6,
                "{context}: {level}: {actual:?} {expected:?}"
            );
        }
    }
}

db_test!(
    channels_scanned_together_match_the_reference,
    |t| async move {
        let db = t.db();
        let kinds = [
            ("power", false),
            ("temperature", true),
            ("electric meter", false),
            ("temperature", true),
            ("power", false),
        ];
        let mut channels = Vec::new();
        for (kind, _) in kinds {
            let resolution = (kind != "temperature").then_some("1000");
            channels.push(db.create_entity(&entity(kind, resolution)).await?);
        }
        // Two weeks around the spring 2024 DST change, then around the autumn 2023 one, written the way
        // vzlogger writes: every channel's reading of a moment before the next moment's.
        // Channel 2 is silent for two days; irregular steps.
        let mut readings: Vec<Vec<(i64, f64)>> = vec![Vec::new(); channels.len()];
        let mut step = 0_i64;
        for (from, to) in [
            ("2024-03-20T00:00:00Z", "2024-04-05T00:00:00Z"),
            ("2023-10-20T00:00:00Z", "2023-11-02T00:00:00Z"),
        ] {
            let (mut ts, to) = (utc(from), utc(to));
            while ts < to {
                let mut batch = Vec::new();
                for (i, channel) in channels.iter().enumerate() {
                    let silent = i == 2
                        && (utc("2024-03-25T00:00:00Z")..utc("2024-03-27T00:00:00Z")).contains(&ts);
                    if !silent {
                        let value = ((step + i as i64 * 5) % 23) as f64 - 4.25;
                        readings[i].push((ts + i as i64, value));
                        batch.push((channel, (ts + i as i64, value)));
                    }
                }
                for (channel, row) in batch {
                    insert(db, channel, &[row]).await;
                }
                step += 1;
                ts += 1_000 * (1_800 + (step * 7_919) % 5_400);
            }
        }
        // Late data, stored after everything else: SQLite finds these rows far away in rowid
        // order and reads such chunks through the index.
        for (i, channel) in channels.iter().enumerate() {
            let late: Vec<(i64, f64)> = (0..40)
                .map(|n| {
                    (
                        utc("2024-03-22T10:00:00Z") + n * 61_000 + i as i64 * 7 + 500,
                        n as f64,
                    )
                })
                .collect();
            insert(db, channel, &late).await;
            readings[i].extend(late);
        }
        let levels = [Level::Hour, Level::Day, Level::Month];
        for (jobs, rows_per_query) in [(1, 40), (2, 97), (1, 500_000)] {
            let run = run(&levels, Mode::Full).with_rows_per_query(rows_per_query);
            let mut reports = Vec::new();
            db.aggregate_channels(&channels, &run, jobs, |event| {
                if let middleware::Progress::Channel { channel, result } = event {
                    reports.push((channel.id, result.unwrap()));
                }
            })
            .await
            .unwrap();
            assert_eq!(reports.len(), channels.len());
            for (i, channel) in channels.iter().enumerate() {
                let context = format!("channel {i}, jobs {jobs}, {rows_per_query} rows per query");
                let report = &reports.iter().find(|(id, _)| *id == channel.id).unwrap().1;
                assert_eq!(report.rows_read as usize, readings[i].len(), "{context}");
                assert_matches_reference(db, channel, &readings[i], kinds[i].1, &levels, &context)
                    .await;
            }
        }
        // Delta: channel 0 behind by a day, the others up to date: it is aggregated on its
        // own, the others find nothing new; the result is the same.
        db.clear_aggregates(&ClearFilter {
            channels: Some(vec![channels[0].id]),
            levels: None,
            since: Some(utc("2024-04-01T00:00:00Z")),
        })
        .await
        .unwrap();
        let run = run(&levels, Mode::Delta).with_rows_per_query(50);
        let mut written = BTreeMap::new();
        db.aggregate_channels(&channels, &run, 1, |event| {
            if let middleware::Progress::Channel { channel, result } = event {
                written.insert(channel.id, result.unwrap().periods_written());
            }
        })
        .await
        .unwrap();
        assert!(written[&channels[0].id] > 0);
        assert!(
            channels[1..].iter().all(|c| written[&c.id] == 0),
            "{written:?}"
        );
        for (i, channel) in channels.iter().enumerate() {
            assert_matches_reference(db, channel, &readings[i], kinds[i].1, &levels, "delta").await;
        }
        Ok::<_, middleware::Error>(())
    }
);
