//! `vz-aggregate` end to end: the real binary against a fresh database of every backend
//! (SQLite always; MariaDB and PostgreSQL when `VZ_TEST_MYSQL_URL` / `VZ_TEST_PG_URL` are
//! set), checked against tools-and-schema §2.11 with the pinned "now" used there.

use std::process::{Command, Output};

use middleware::testing::TestDb;
use middleware::{Db, Entity, Level, NewEntity, Reading, db_test};

/// tools-and-schema §2.11: 2024-05-15 10:30:00 CEST.
const NOW: &str = "1715761800000";

/// Runs the binary on `t`'s database in Europe/Berlin at the pinned now.
fn vz_aggregate(t: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vz-aggregate"))
        .args(["--db", t.url(), "--timezone", "Europe/Berlin", "--now", NOW])
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("running vz-aggregate")
}

/// Runs the binary and expects success; returns stdout.
fn ok(t: &TestDb, args: &[&str]) -> String {
    let out = vz_aggregate(t, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs the binary and expects exit code 1; returns stderr.
fn fails(t: &TestDb, args: &[&str]) -> String {
    let out = vz_aggregate(t, args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
    String::from_utf8(out.stderr).unwrap()
}

fn new_entity(kind: &str, resolution: Option<&str>) -> NewEntity {
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

async fn channel(db: &Db, kind: &str, resolution: Option<&str>, rows: &[(i64, f64)]) -> Entity {
    let entity = db
        .create_entity(&new_entity(kind, resolution))
        .await
        .unwrap();
    let readings: Vec<Reading> = rows
        .iter()
        .map(|&(timestamp, value)| Reading { timestamp, value })
        .collect();
    db.insert_readings(entity.id, &readings).await.unwrap();
    entity
}

/// The rows of one level as (timestamp, value rounded to 1e-9, count).
async fn rows(db: &Db, channel: &Entity, level: Level) -> Vec<(i64, f64, i64)> {
    db.aggregates(channel.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|row| row.type_id == level.type_id())
        .map(|row| (row.timestamp, (row.value * 1e9).round() / 1e9, row.count))
        .collect()
}

/// §2.11 A's channel: power, resolution 100.
const VECTOR_A: [(i64, f64); 6] = [
    (1_715_464_800_000, 50.0),
    (1_715_551_200_000, 100.0),
    (1_715_594_400_000, 100.0),
    (1_715_637_600_000, 100.0),
    (1_715_680_800_000, 100.0),
    (1_715_724_000_000, 50.0),
];

db_test!(reproduces_vectors_a_and_b, |t| async move {
    let db = t.db();
    let power = channel(db, "power", Some("100"), &VECTOR_A).await;
    // §2.11 B: temperature 05-13 00/06/12/18 h, 05-14 00/12 h, 05-15 06 h (CEST).
    let hour = 3_600_000;
    let start = 1_715_551_200_000;
    let sensor = channel(
        db,
        "temperature",
        None,
        &[
            (start, 10.0),
            (start + 6 * hour, 20.0),
            (start + 12 * hour, 30.0),
            (start + 18 * hour, 40.0),
            (start + 24 * hour, 50.0),
            (start + 36 * hour, 60.0),
            (start + 54 * hour, 70.0),
        ],
    )
    .await;
    let meter = channel(
        db,
        "electric meter",
        Some("100"),
        &[
            (start, 1000.0),
            (start + 12 * hour, 1010.0),
            (start + 24 * hour, 1030.0),
            (start + 36 * hour, 1060.0),
            (start + 54 * hour, 1100.0),
        ],
    )
    .await;
    db.create_entity(&new_entity("group", None)).await.unwrap();

    let summary = ok(&t, &["--mode", "full", "--level", "day"]);
    assert!(
        summary
            .starts_with("aggregated 3 channels at day (full, Europe/Berlin): 7 periods written"),
        "{summary}"
    );
    assert_eq!(
        rows(db, &power, Level::Day).await,
        [
            (1_715_464_800_000, 50.0, 1),
            (1_715_594_400_000, 200.0, 2),
            (1_715_680_800_000, 200.0, 2)
        ]
    );
    assert_eq!(
        rows(db, &sensor, Level::Day).await,
        [
            (1_715_616_000_000, 30.0, 4),
            (1_715_680_800_000, 56.666_666_667, 2)
        ]
    );
    assert_eq!(
        rows(db, &meter, Level::Day).await,
        [
            (1_715_594_400_000, 1010.0, 2),
            (1_715_680_800_000, 1060.0, 2)
        ]
    );

    // Delta hour, the default `run` spelled out: one row per raw row for the power channel.
    ok(&t, &["run", &power.uuid, "-l", "hour", "-q"]);
    let hours = rows(db, &power, Level::Hour).await;
    let raw: Vec<(i64, f64, i64)> = VECTOR_A.iter().map(|&(ts, v)| (ts, v, 1)).collect();
    assert_eq!(hours, raw);
    Ok::<_, middleware::Error>(())
});

db_test!(late_data_leaves_one_row_per_period, |t| async move {
    let db = t.db();
    let hour = 3_600_000;
    let day_13 = 1_715_551_200_000;
    let power = channel(
        db,
        "power",
        Some("1000"),
        &[
            (day_13 + 6 * hour, 1.0),
            (day_13 + 12 * hour, 1.0),
            (day_13 + 36 * hour, 1.0),
        ],
    )
    .await;
    ok(&t, &["-m", "full", "-q"]);
    db.insert_reading(power.id, day_13 + 18 * hour, 1.0).await?;
    ok(&t, &["-q"]);
    assert_eq!(
        rows(db, &power, Level::Day).await[0],
        (day_13 + 12 * hour, 2.0, 2)
    );
    ok(&t, &["-m", "full", "-p", "2", "-q"]);
    let expected = [(day_13 + 18 * hour, 3.0, 3), (day_13 + 36 * hour, 1.0, 1)];
    assert_eq!(rows(db, &power, Level::Day).await, expected);
    ok(&t, &["--mode", "full", "-q"]);
    assert_eq!(rows(db, &power, Level::Day).await, expected);
    Ok::<_, middleware::Error>(())
});

db_test!(a_second_run_refuses_to_start, |t| async move {
    let db = t.db();
    channel(db, "power", Some("1000"), &VECTOR_A).await;
    let lock = db.lock_aggregation().await.unwrap();
    let err = fails(&t, &["--level", "hour"]);
    assert!(
        err.contains("another aggregation run is in progress"),
        "{err}"
    );
    assert!(db.aggregates(1).await.unwrap().is_empty());
    lock.release().await.unwrap();
    ok(&t, &["--level", "hour", "-q"]);
    Ok::<_, middleware::Error>(())
});

db_test!(clear_and_rebuild, |t| async move {
    let db = t.db();
    let one = channel(db, "power", Some("1000"), &VECTOR_A).await;
    let two = channel(db, "power", Some("1000"), &VECTOR_A).await;
    ok(&t, &["-m", "full", "-l", "hour,day", "-q"]);
    // `clear --since` together with a level and a UUID (volkszaehler's SQL error 1064).
    let out = ok(
        &t,
        &[
            "clear",
            &one.uuid,
            "--level",
            "hour",
            "--since",
            "2024-05-14",
        ],
    );
    assert!(out.starts_with("removed 3 aggregate rows in "), "{out}");
    assert_eq!(rows(db, &one, Level::Hour).await.len(), 3);
    assert_eq!(rows(db, &two, Level::Hour).await.len(), 6);
    assert_eq!(rows(db, &one, Level::Day).await.len(), 3);
    // Rebuild at day level drops the hours of every channel.
    ok(&t, &["rebuild", "-q"]);
    for channel in [&one, &two] {
        assert!(rows(db, channel, Level::Hour).await.is_empty());
        assert_eq!(rows(db, channel, Level::Day).await.len(), 3);
    }
    ok(&t, &["clear", "-q"]);
    assert!(db.aggregates(one.id).await.unwrap().is_empty());
    let out = ok(&t, &["optimize"]);
    assert!(out.starts_with("optimized in "), "{out}");
    Ok::<_, middleware::Error>(())
});

#[tokio::test]
async fn usage_errors_are_explained() {
    let Some(t) = TestDb::new(middleware::testing::TestBackend::Sqlite).await else {
        return;
    };
    let power = channel(t.db(), "power", Some("1000"), &VECTOR_A).await;
    let group = t
        .db()
        .create_entity(&new_entity("group", None))
        .await
        .unwrap();
    for (args, message) in [
        (&["-p", "2"][..], "--periods needs --mode full"),
        (&["-l", "week"], "unsupported aggregation level week"),
        (
            &["-l", "hour", "clear"],
            "put the subcommand's options after its name",
        ),
        (
            &["00000000-0000-0000-0000-000000000000"],
            "no channel with uuid",
        ),
        (&[&group.uuid], "is a group, not a channel"),
        (&["clear", "--since", "yesterday"], "invalid --since"),
    ] {
        let err = fails(&t, args);
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(err.starts_with("vz-aggregate: "), "{err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_vz-aggregate"))
        .args(["--db", t.url(), "--timezone", "Mars/Base"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unknown time zone 'Mars/Base'"), "{err}");
    // clap's own usage errors exit with 2.
    assert_eq!(
        vz_aggregate(&t, &["-l", "fortnight"]).status.code(),
        Some(2)
    );
    assert!(t.db().aggregates(power.id).await.unwrap().is_empty());
    t.cleanup().await;
}

#[tokio::test]
async fn quiet_prints_nothing_and_verbose_names_each_channel() {
    let Some(t) = TestDb::new(middleware::testing::TestBackend::Sqlite).await else {
        return;
    };
    let power = channel(t.db(), "power", Some("1000"), &VECTOR_A).await;
    let out = vz_aggregate(&t, &["-q", "-l", "hour"]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    let out = vz_aggregate(&t, &["-v", "-l", "hour", "-m", "full"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!("{} (power): 6 rows read, hour 6", power.uuid)),
        "{stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("6 periods written (hour 6), 6 raw rows read in "),
        "{stdout}"
    );
    t.cleanup().await;
}

#[tokio::test]
async fn config_supplies_the_database_and_time_zone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vz.sqlite3");
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "timezone: Europe/Berlin\ndb:\n  driver: pdo_sqlite\n  path: {}\n",
            file.display()
        ),
    )
    .unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_vz-aggregate"))
            .arg("--config")
            .arg(&config)
            .args(["--now", NOW])
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    };
    // The config names a database that must exist: aggregating a new, empty one is a typo.
    let out = run();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!file.exists());
    let db = middleware::Db::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    db.close().await;
    let out = run();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("(delta, Europe/Berlin)"), "{stdout}");
}

#[tokio::test]
async fn a_channel_of_unknown_type_is_named_and_the_others_are_aggregated() {
    let Some(t) = TestDb::new(middleware::testing::TestBackend::Sqlite).await else {
        return;
    };
    let power = channel(t.db(), "power", Some("1000"), &VECTOR_A).await;
    t.execute(
        "INSERT INTO entities (uuid, type, class) \
         VALUES ('0b9e0f5a-0000-4000-8000-000000000001', 'powr', 'channel')",
    )
    .await;
    let out = vz_aggregate(&t, &["-l", "hour"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(
            "channel 0b9e0f5a-0000-4000-8000-000000000001 (powr): unknown channel type; skipped"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 of 2 channels could not be aggregated"),
        "{stderr}"
    );
    assert_eq!(rows(t.db(), &power, Level::Hour).await.len(), 6);
    t.cleanup().await;
}
