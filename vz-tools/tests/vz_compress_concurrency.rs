//! `vz-compress` on SQLite next to a live writer: SQLite has one writer at a time, so every
//! merge transaction holds up vzlogger's inserts (through push-server or the middleware) for
//! as long as it lasts. A writer waits at most its busy timeout (5 s, sqlx's default) and then
//! fails with "database is locked", losing the reading. The compression must therefore keep
//! each transaction short on a table of realistic size.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use middleware::testing::{TestBackend, TestDb};
use middleware::{Db, NewEntity};

/// The pinned "now": 2024-05-15T08:30:00Z.
const NOW: i64 = 1_715_761_800_000;

/// Readings of the compressed channel. One every 40 s with 1-minute windows alternates between
/// windows of two readings (merged) and of one (left alone), so a batch of windows becomes
/// thousands of separate time ranges to delete: the case that made one transaction take
/// several seconds.
const READINGS: i64 = 1_000_000;

fn power(title: &str) -> NewEntity {
    NewEntity {
        kind: "power".into(),
        uuid: None,
        properties: vec![
            ("title".into(), title.into()),
            ("resolution".into(), "1000".into()),
        ],
    }
}

/// What the concurrent inserter saw.
#[derive(Debug, Default)]
struct Inserts {
    /// Timestamps written successfully.
    written: Vec<i64>,
    /// The first failed insert's error message.
    error: Option<String>,
    /// The longest time one insert took.
    longest: Duration,
}

/// Inserts a reading into `channel` every 2 ms until `child` ends; at the first failed insert
/// it kills `child` (no point in waiting for a run that failed the test already).
async fn insert_while_running(db: &Db, channel: i32, child: &mut Child) -> Inserts {
    let mut inserts = Inserts::default();
    let mut timestamp = NOW;
    while child.try_wait().unwrap().is_none() {
        timestamp += 1000;
        let started = Instant::now();
        match db.insert_reading(channel, timestamp, 1.0).await {
            Ok(()) => inserts.written.push(timestamp),
            Err(error) => {
                inserts.error = Some(format!("{error} (after waiting {:?})", started.elapsed()));
                child.kill().unwrap();
                break;
            }
        }
        inserts.longest = inserts.longest.max(started.elapsed());
        // The pace of a busy logger, not a wait for an event.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    inserts
}

#[tokio::test]
async fn compressing_sqlite_never_locks_out_a_concurrent_writer() {
    let t = TestDb::new(TestBackend::Sqlite)
        .await
        .expect("SQLite always runs");
    let db = t.db();
    let compressed = db.create_entity(&power("compressed")).await.unwrap();
    let live = db.create_entity(&power("live")).await.unwrap();
    let start = NOW - 2 * 365 * 86_400_000;
    t.execute(&format!(
        "WITH RECURSIVE s(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM s WHERE g < {last}) \
         INSERT INTO data (channel_id, \"timestamp\", \"value\") \
         SELECT {id}, {start} + g * 40000, 1 + g % 3 FROM s",
        last = READINGS - 1,
        id = compressed.id,
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let scheme = dir.path().join("scheme.yaml");
    std::fs::write(&scheme, "default: [{older_than: 1d, window: 1m}]\n").unwrap();

    // The writer's own pool, as vzlogger's server would have it (busy timeout 5 s).
    let writer = Db::connect(t.url()).await.unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vz-compress"))
        .arg("--db")
        .arg(t.url())
        .args(["--now", &NOW.to_string(), "--scheme"])
        .arg(&scheme)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let inserts = insert_while_running(&writer, live.id, &mut child).await;
    writer.close().await;
    let output = child.wait_with_output().unwrap();
    assert_eq!(inserts.error, None, "an insert failed during vz-compress");

    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}longest insert: {:?}", inserts.longest);
    assert!(
        output.status.success(),
        "vz-compress failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Half the windows hold two readings: a third of the readings go.
    assert!(
        stdout.contains(&format!("removed {} of {READINGS} readings", READINGS / 3)),
        "{stdout}"
    );
    assert!(
        inserts.written.len() > 100,
        "{} inserts",
        inserts.written.len()
    );
    let stored: Vec<i64> = db
        .readings(live.id, i64::MIN, i64::MAX)
        .await
        .unwrap()
        .iter()
        .map(|r| r.timestamp)
        .collect();
    assert_eq!(
        stored, inserts.written,
        "the inserted readings are all there"
    );
    t.cleanup().await;
}
