//! `vz-dbcopy` end to end: the real binary copying between SQLite, MariaDB and PostgreSQL.
//!
//! Every direction test seeds a source with more than 25,000 readings, copies everything
//! with small pages (many batches), and compares row counts and a checksum of every table;
//! then adds rows to the source and checks that an incremental (`pk`) run copies exactly
//! those. Foreign keys are read back from the target's catalogue.

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use middleware::testing::{TestBackend, TestDb};
use middleware::{Backend, Db, NewEntity, Reading, Table};

/// Readings in the seeded source.
const READINGS: i64 = 26_000;

/// Every table in `copy` mode.
const ALL_COPY: &str = "tables:\n  entities: copy\n  properties: copy\n  entities_in_aggregator: copy\n  data: copy\n  aggregate: copy\n";

/// The dist config's choice, with aggregates incremental too.
const INCREMENTAL: &str = "tables:\n  entities: copy\n  properties: copy\n  entities_in_aggregator: copy\n  data: pk\n  aggregate: pk\n";

fn power(title: &str) -> NewEntity {
    NewEntity {
        kind: "power".into(),
        uuid: None,
        properties: vec![
            ("title".into(), title.into()),
            ("resolution".into(), "1000".into()),
            (
                "description".into(),
                format!("Zähler „{title}“ – 'quoted' \"too\""),
            ),
        ],
    }
}

/// Runs vz-dbcopy with a config file holding `tables`.
fn vz_dbcopy(dir: &Path, source: &str, target: &str, tables: &str, args: &[&str]) -> Output {
    let config = dir.join("dbcopy.yaml");
    std::fs::write(&config, tables).unwrap();
    Command::new(env!("CARGO_BIN_EXE_vz-dbcopy"))
        .arg("--config")
        .arg(&config)
        .args(["--source", source, "--target", target])
        .args(args)
        .output()
        .expect("running vz-dbcopy")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "vz-dbcopy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Inserts aggregate rows with plain SQL (the crate has no writer for them yet).
async fn aggregates(t: &TestDb, channel_id: i32, count: i64) {
    let q = if t.backend() == Backend::MySql {
        '`'
    } else {
        '"'
    };
    let mut script = String::new();
    for i in 0..count {
        script.push_str(&format!(
            "INSERT INTO aggregate (channel_id, {q}type{q}, {q}timestamp{q}, {q}value{q}, {q}count{q}) \
             VALUES ({channel_id}, {}, {}, {}, {});",
            i % 4,
            1_600_000_000_000 + i * 3_600_000,
            i as f64 * 0.1,
            i
        ));
    }
    t.execute(&script).await;
}

/// Channels, a group, properties with awkward text, readings with awkward values and
/// aggregates. Returns the first channel's id.
async fn seed(t: &TestDb) -> i32 {
    let db = t.db();
    let group = db
        .create_entity(&NewEntity {
            kind: "group".into(),
            uuid: None,
            properties: vec![("title".into(), "Haus".into())],
        })
        .await
        .unwrap();
    let mut first = None;
    for c in 0..4_i64 {
        let channel = db.create_entity(&power(&format!("c{c}"))).await.unwrap();
        db.add_child(&group.uuid, &channel.uuid).await.unwrap();
        let readings: Vec<Reading> = (0..READINGS / 4)
            .map(|i| Reading {
                timestamp: 1_600_000_000_000 + i * 1000 + c,
                value: match i % 5 {
                    0 => 0.1 * i as f64,
                    1 => -1.5e-7,
                    2 => 123_456_789.123_456_7,
                    3 => i as f64,
                    _ => 1.0 / 3.0,
                },
            })
            .collect();
        db.insert_readings(channel.id, &readings).await.unwrap();
        first.get_or_insert(channel.id);
    }
    let first = first.unwrap();
    aggregates(t, first, 300).await;
    first
}

/// Row count and checksum of every table, read page by page through the crate.
async fn snapshot(db: &Db) -> Vec<(Table, usize, u64)> {
    let mut out = Vec::new();
    for table in Table::ALL {
        let mut hasher = DefaultHasher::new();
        let mut count = 0;
        let mut after = None;
        loop {
            let page = db.read_page(table, after.as_ref(), 5000).await.unwrap();
            if page.is_empty() {
                break;
            }
            after = page.last_key();
            for line in page.lines() {
                hasher.write(line.as_bytes());
                hasher.write_u8(b'\n');
                count += 1;
            }
        }
        out.push((table, count, hasher.finish()));
    }
    out
}

/// The five foreign keys of the schema.
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

/// Full copy, checks, incremental copy, checks.
async fn direction(from: TestBackend, to: TestBackend) {
    let (Some(source), Some(target)) = (TestDb::new(from).await, TestDb::empty(to).await) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let channel = seed(&source).await;

    let out = vz_dbcopy(
        dir.path(),
        source.url(),
        target.url(),
        ALL_COPY,
        &["copy", "--batch", "1000"],
    );
    let stdout = ok(&out);
    assert!(
        stdout.contains(&format!("data: copied {READINGS} rows (overwrite)")),
        "{stdout}"
    );
    assert!(stdout.contains("rows/s"), "{stdout}");
    let copied = target.connect().await.unwrap();
    let expected = snapshot(source.db()).await;
    assert_eq!(expected[3].1, READINGS as usize);
    assert_eq!(snapshot(&copied).await, expected, "{from:?} → {to:?}");
    assert_eq!(
        copied.entity_references().await.unwrap(),
        schema_references()
    );
    // New channels on the target get fresh ids (PostgreSQL's sequence was advanced).
    let max = source
        .db()
        .entities()
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .max()
        .unwrap();
    let fresh = copied
        .create_entity(&power("after the copy"))
        .await
        .unwrap();
    assert!(fresh.id > max, "{} <= {max}", fresh.id);
    copied.delete_entity(&fresh.uuid).await.unwrap();

    // Incremental: only what the source gained.
    let more: Vec<Reading> = (0..700)
        .map(|i| Reading {
            timestamp: 1_700_000_000_000 + i,
            value: i as f64,
        })
        .collect();
    source.db().insert_readings(channel, &more).await.unwrap();
    let extra = source.db().create_entity(&power("new")).await.unwrap();
    source
        .db()
        .insert_readings(extra.id, &more[..300])
        .await
        .unwrap();
    aggregates(&source, extra.id, 5).await;
    let out = vz_dbcopy(
        dir.path(),
        source.url(),
        target.url(),
        INCREMENTAL,
        &["copy", "-b", "256"],
    );
    let stdout = ok(&out);
    assert!(
        stdout.contains("data: copied 1000 rows (incremental)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("aggregate: copied 5 rows (incremental)"),
        "{stdout}"
    );
    assert_eq!(snapshot(&copied).await, snapshot(source.db()).await);
    assert_eq!(
        copied.entity_references().await.unwrap(),
        schema_references()
    );

    // Nothing new: nothing copied.
    let stdout = ok(&vz_dbcopy(
        dir.path(),
        source.url(),
        target.url(),
        INCREMENTAL,
        &["copy"],
    ));
    assert!(stdout.contains("data: copied 0 rows"), "{stdout}");
    copied.close().await;
    source.cleanup().await;
    target.cleanup().await;
}

#[tokio::test]
async fn mariadb_to_sqlite() {
    direction(TestBackend::MySql, TestBackend::Sqlite).await;
}

#[tokio::test]
async fn mariadb_to_postgres() {
    direction(TestBackend::MySql, TestBackend::Postgres).await;
}

#[tokio::test]
async fn postgres_to_mariadb() {
    direction(TestBackend::Postgres, TestBackend::MySql).await;
}

#[tokio::test]
async fn sqlite_to_postgres() {
    direction(TestBackend::Sqlite, TestBackend::Postgres).await;
}

#[tokio::test]
async fn an_interrupted_copy_resumes_and_restores_foreign_keys() {
    let (Some(source), Some(target)) = (
        TestDb::new(TestBackend::Sqlite).await,
        TestDb::new(TestBackend::Postgres).await,
    ) else {
        return;
    };
    seed(&source).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dbcopy.yaml"), INCREMENTAL).unwrap();
    // The copy holds after 40 pages of data (the hook of `vz-dbcopy`'s copy loop), with the
    // foreign keys dropped; it is killed there, not at some moment a timer picked.
    let mut child = Command::new(env!("CARGO_BIN_EXE_vz-dbcopy"))
        .arg("--config")
        .arg(dir.path().join("dbcopy.yaml"))
        .args([
            "--source",
            source.url(),
            "--target",
            target.url(),
            "copy",
            "--batch",
            "50",
        ])
        .env("VZ_DBCOPY_HOLD_AFTER_PAGES", "40")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let held = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stderr), &mut line).map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(held, "vz-dbcopy: holding after 40 pages of data\n");
    child.kill().unwrap(); // SIGKILL, while the foreign keys are dropped
    child.wait().unwrap();
    let db = target.db();
    let partial = db.count_rows(Table::Data, None).await.unwrap();
    assert!(
        partial > 0 && partial < READINGS as u64,
        "{partial} of {READINGS} readings copied when killed"
    );
    assert!(db.entity_references().await.unwrap().len() < 5);

    let out = vz_dbcopy(
        dir.path(),
        source.url(),
        target.url(),
        INCREMENTAL,
        &["copy"],
    );
    let stdout = ok(&out);
    let rest = READINGS as u64 - partial;
    assert!(
        stdout.contains(&format!("data: copied {rest} rows (incremental)")),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("created missing foreign key"), "{stderr}");
    assert_eq!(snapshot(db).await, snapshot(source.db()).await);
    assert_eq!(db.entity_references().await.unwrap(), schema_references());
    source.cleanup().await;
    target.cleanup().await;
}

/// A legacy database of `backend`, seeded through the crate.
async fn legacy(backend: TestBackend) -> Option<(TestDb, Db)> {
    let t = TestDb::empty(backend).await?;
    t.execute(middleware::testing::legacy_ddl(t.backend()))
        .await;
    let db = t.connect().await.unwrap();
    assert_eq!(db.variant(), middleware::SchemaVariant::Legacy);
    Some((t, db))
}

/// Seeds a connected database like [`seed`], through the crate only.
async fn seed_db(db: &Db) {
    let group = db
        .create_entity(&NewEntity {
            kind: "group".into(),
            uuid: None,
            properties: vec![("title".into(), "g".into())],
        })
        .await
        .unwrap();
    for c in 0..3_i64 {
        let channel = db.create_entity(&power(&format!("l{c}"))).await.unwrap();
        db.add_child(&group.uuid, &channel.uuid).await.unwrap();
        let readings: Vec<Reading> = (0..2000)
            .map(|i| Reading {
                timestamp: 1_500_000_000_000 + i * 60_000 + c,
                value: (i as f64).sqrt(),
            })
            .collect();
        db.insert_readings(channel.id, &readings).await.unwrap();
    }
}

#[tokio::test]
async fn legacy_sources_copy_into_the_current_schema() {
    for (from, to) in [
        (TestBackend::MySql, TestBackend::Sqlite),
        (TestBackend::Postgres, TestBackend::MySql),
    ] {
        let Some((source, source_db)) = legacy(from).await else {
            continue;
        };
        let Some(target) = TestDb::empty(to).await else {
            continue;
        };
        seed_db(&source_db).await;
        let dir = tempfile::tempdir().unwrap();
        ok(&vz_dbcopy(
            dir.path(),
            source.url(),
            target.url(),
            ALL_COPY,
            &["copy"],
        ));
        let copied = target.connect().await.unwrap();
        assert_eq!(copied.variant(), middleware::SchemaVariant::Current);
        assert_eq!(
            snapshot(&copied).await,
            snapshot(&source_db).await,
            "{from:?} → {to:?}"
        );
        assert_eq!(
            copied.entity_references().await.unwrap(),
            schema_references()
        );
        copied.close().await;
        source_db.close().await;
        source.cleanup().await;
        target.cleanup().await;
    }
}

#[tokio::test]
async fn a_current_source_copies_into_a_legacy_postgres_target() {
    let (Some(source), Some((target, target_db))) = (
        TestDb::new(TestBackend::Sqlite).await,
        legacy(TestBackend::Postgres).await,
    ) else {
        return;
    };
    seed_db(source.db()).await;
    aggregates(&source, 2, 10).await;
    let dir = tempfile::tempdir().unwrap();
    ok(&vz_dbcopy(
        dir.path(),
        source.url(),
        target.url(),
        ALL_COPY,
        &["copy"],
    ));
    // Twice: `copy` mode empties and refills, the legacy ids come from the sequences.
    ok(&vz_dbcopy(
        dir.path(),
        source.url(),
        target.url(),
        ALL_COPY,
        &["copy"],
    ));
    assert_eq!(snapshot(&target_db).await, snapshot(source.db()).await);
    assert_eq!(target_db.variant(), middleware::SchemaVariant::Legacy);
    target_db.close().await;
    source.cleanup().await;
    target.cleanup().await;
}

/// A SQLite file URL in `dir`.
fn sqlite_url(dir: &Path, name: &str) -> (PathBuf, String) {
    let file = dir.join(name);
    let url = format!("sqlite://{}", file.display());
    (file, url)
}

#[tokio::test]
async fn commands_and_the_dist_config() {
    let dir = tempfile::tempdir().unwrap();
    let (source_file, source_url) = sqlite_url(dir.path(), "source.db3");
    let source = Db::connect(&source_url).await.unwrap();
    seed_db(&source).await;
    // etc/dbcopy.dist.yaml with volkszaehler's db: keys; target path relative to the cwd.
    std::fs::write(
        dir.path().join("config.yaml"),
        format!(
            "source:\n  driver: pdo_sqlite\n  path: {}\ntarget:\n  driver: pdo_sqlite\n  path: backup.db3\n\
             tables:\n  entities: copy\n  properties: copy\n  entities_in_aggregator: copy\n  data: pk\n  aggregate: skip\n",
            source_file.display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vz-dbcopy"))
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let stdout = ok(&run(&["create"]));
    assert!(
        stdout.contains("created the volkszaehler schema"),
        "{stdout}"
    );
    let stdout = ok(&run(&["create"]));
    assert!(stdout.contains("already"), "{stdout}");
    let stdout = ok(&run(&["copy"]));
    assert!(stdout.contains("aggregate: skipped"), "{stdout}");
    assert!(
        stdout.contains("data: copied 6000 rows (incremental)"),
        "{stdout}"
    );
    let (_, backup_url) = sqlite_url(dir.path(), "backup.db3");
    let backup = Db::connect_existing(&backup_url).await.unwrap();
    assert_eq!(snapshot(&backup).await, snapshot(&source).await);
    backup.close().await;

    // Only some tables; unknown ones are refused.
    let stdout = ok(&run(&["copy", "properties"]));
    assert!(stdout.contains("properties: copied"), "{stdout}");
    assert!(!stdout.contains("data:"), "{stdout}");
    let out = run(&["copy", "readings"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not configured"));

    let out = run(&["influx", "-m", "delta"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("influx command is not supported"));

    let stdout = ok(&run(&["clear"]));
    assert!(stdout.starts_with("emptied 5 tables"), "{stdout}");
    let backup = Db::connect_existing(&backup_url).await.unwrap();
    assert_eq!(backup.count_rows(Table::Data, None).await.unwrap(), 0);
    backup.close().await;
    let stdout = ok(&run(&["clear", "--drop"]));
    assert!(stdout.starts_with("dropped 5 tables"), "{stdout}");
    let stdout = ok(&run(&["drop"]));
    assert!(stdout.starts_with("dropped"), "{stdout}");
    assert!(!dir.path().join("backup.db3").exists());
    assert!(source_file.exists(), "the source is never touched");

    // A source without the schema is refused, and not created.
    let out = Command::new(env!("CARGO_BIN_EXE_vz-dbcopy"))
        .current_dir(dir.path())
        .args(["--source", "sqlite://missing.db3", "copy"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.path().join("missing.db3").exists());
    source.close().await;
}

#[tokio::test]
async fn incremental_small_tables_copy_exactly_the_missing_rows() {
    let (Some(source), Some(target)) = (
        TestDb::new(TestBackend::Sqlite).await,
        TestDb::empty(TestBackend::MySql).await,
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let all_pk = "tables:\n  entities: pk\n  properties: pk\n  entities_in_aggregator: pk\n  data: pk\n  aggregate: pk\n";
    seed_db(source.db()).await;
    let stdout = ok(&vz_dbcopy(
        dir.path(),
        source.url(),
        target.url(),
        all_pk,
        &["copy"],
    ));
    assert!(stdout.contains("entities: copied 4 rows"), "{stdout}");
    // A property that sorts before the existing ones, a new membership of an old channel and
    // a new channel.
    let db = source.db();
    let entities = db.entities().await.unwrap();
    db.set_property(&entities[1].uuid, "color", "red")
        .await
        .unwrap();
    let group = db
        .create_entity(&NewEntity {
            kind: "group".into(),
            uuid: None,
            properties: vec![("title".into(), "second".into())],
        })
        .await
        .unwrap();
    db.add_child(&group.uuid, &entities[1].uuid).await.unwrap();
    let stdout = ok(&vz_dbcopy(
        dir.path(),
        source.url(),
        target.url(),
        all_pk,
        &["copy"],
    ));
    for line in [
        "entities: copied 1 rows",
        "properties: copied 2 rows",
        "entities_in_aggregator: copied 1 rows",
        "data: copied 0 rows",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
    let copied = target.connect().await.unwrap();
    assert_eq!(snapshot(&copied).await, snapshot(db).await);
    copied.close().await;
    source.cleanup().await;
    target.cleanup().await;
}
