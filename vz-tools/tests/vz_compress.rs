//! `vz-compress` end to end: the real binary against SQLite, MariaDB and PostgreSQL.
//!
//! The checks are built from tools-and-schema §3.2–3.3 and decision 11, not from the
//! implementation: every reading left afterwards must carry the interpreter's value (SUM,
//! MAX, AVG) of exactly the original readings since the previous one; readings merged
//! together must share one complete window of a tier whose age they all have; no reading
//! younger than the youngest tier may change; a second run and a dry run change nothing.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use middleware::testing::TestDb;
use middleware::{Db, Entity, NewEntity, Reading, Table, db_test};

/// The pinned "now": 2024-05-15T08:30:00Z.
const NOW: i64 = 1_715_761_800_000;
const SECOND: i64 = 1000;
const MIN: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// vzcompress2's default scheme (§3.1): (older than, window), youngest first.
const DEFAULT_TIERS: [(i64, i64); 4] = [
    (7 * DAY, MIN),
    (30 * DAY, 5 * MIN),
    (180 * DAY, 15 * MIN),
    (365 * DAY, 30 * MIN),
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Function {
    Sum,
    Max,
    Avg,
}

fn vz_compress(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vz-compress"))
        .arg("--db")
        .arg(url)
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("running vz-compress")
}

/// Runs vz-compress, expects success, returns stdout.
fn ok(url: &str, args: &[&str]) -> String {
    let out = vz_compress(url, args);
    assert!(
        out.status.success(),
        "vz-compress {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn channel(kind: &str, title: &str) -> NewEntity {
    let mut properties = vec![("title".into(), title.into())];
    if matches!(kind, "power" | "electric meter" | "gas") {
        properties.push(("resolution".into(), "1000".into()));
    }
    NewEntity {
        kind: kind.into(),
        uuid: None,
        properties,
    }
}

/// Readings every 10 s (with jitter) for two hours around each tier boundary, one hour
/// 400 days ago and the last hour; values per interpreter.
fn readings(function: Function) -> Vec<Reading> {
    let mut starts: Vec<i64> = DEFAULT_TIERS
        .iter()
        .map(|(age, _)| NOW - age - HOUR)
        .collect();
    starts.push(NOW - 400 * DAY);
    starts.push(NOW - HOUR);
    starts.sort_unstable();
    let mut out = Vec::new();
    let mut meter = 1000.0;
    for start in starts {
        for i in 0..720_i64 {
            let timestamp = start + i * 10 * SECOND + (i * 7919) % 5000;
            if timestamp > NOW {
                break;
            }
            let n = i32::try_from(i % 13).unwrap();
            let value = match function {
                Function::Sum => f64::from(1 + n % 5),
                Function::Max => {
                    meter += f64::from(n) * 0.5;
                    meter
                }
                Function::Avg => 20.0 + f64::from(n) * 0.37,
            };
            out.push(Reading { timestamp, value });
        }
    }
    out
}

async fn all(db: &Db, id: i32) -> Vec<Reading> {
    db.readings(id, i64::MIN, i64::MAX)
        .await
        .expect("reading back")
}

/// The checks of the module docs for one channel.
fn check(original: &[Reading], after: &[Reading], function: Function, tiers: &[(i64, i64)]) {
    let youngest = tiers.iter().map(|t| t.0).min().unwrap();
    let young = |rs: &[Reading]| -> Vec<Reading> {
        rs.iter()
            .filter(|r| r.timestamp > NOW - youngest)
            .copied()
            .collect()
    };
    assert_eq!(young(after), young(original), "young readings changed");

    let mut previous = i64::MIN;
    for reading in after {
        let merged: Vec<&Reading> = original
            .iter()
            .filter(|o| o.timestamp > previous && o.timestamp <= reading.timestamp)
            .collect();
        assert_eq!(
            merged.last().map(|r| r.timestamp),
            Some(reading.timestamp),
            "a merged reading must keep its window's newest timestamp"
        );
        let values = merged.iter().map(|r| r.value);
        match function {
            Function::Sum => assert_eq!(reading.value, values.sum::<f64>()),
            Function::Max => assert_eq!(reading.value, values.fold(f64::MIN, f64::max)),
            Function::Avg => {
                let mean = values.sum::<f64>() / merged.len() as f64;
                assert!(
                    (reading.value - mean).abs() <= 1e-12 * mean.abs(),
                    "{} != {mean}",
                    reading.value
                );
            }
        }
        if merged.len() > 1 {
            let first = merged[0].timestamp;
            let last = reading.timestamp;
            assert!(
                tiers.iter().any(|&(age, window)| {
                    window > 0
                        && first.div_euclid(window) == last.div_euclid(window)
                        && (last.div_euclid(window) + 1) * window - 1 <= NOW - age
                }),
                "{} readings from {first} to {last} were merged without sharing a complete \
                 window of a tier they are old enough for",
                merged.len()
            );
        }
        previous = reading.timestamp;
    }

    // Thinned: no two readings left in one complete window inside its tier's ages.
    let mut sorted: Vec<(i64, i64)> = tiers.to_vec();
    sorted.sort_unstable();
    for (i, &(age, window)) in sorted.iter().enumerate() {
        let older = sorted.get(i + 1).map_or(i64::MIN, |next| NOW - next.0);
        for pair in after.windows(2) {
            let k = pair[0].timestamp.div_euclid(window);
            if k == pair[1].timestamp.div_euclid(window)
                && (k + 1) * window - 1 <= NOW - age
                && k * window > older
            {
                panic!("window {k} of {window} ms still holds {pair:?}");
            }
        }
    }
}

/// Four channels (one without a title) with readings; returns them with their functions.
async fn seed(t: &TestDb) -> Vec<(Entity, Function, Vec<Reading>)> {
    let db = t.db();
    let mut out = Vec::new();
    for (kind, function) in [
        ("power", Function::Sum),
        ("electric meter", Function::Max),
        ("temperature", Function::Avg),
        ("gas", Function::Sum),
    ] {
        let entity = db.create_entity(&channel(kind, kind)).await.unwrap();
        let data = readings(function);
        db.insert_readings(entity.id, &data).await.unwrap();
        out.push((entity, function, data));
    }
    // The gas channel loses its (required) title: vzcompress2 skipped such channels; we do not.
    t.execute(&format!(
        "DELETE FROM properties WHERE entity_id = {} AND pkey = 'title'",
        out[3].0.id
    ))
    .await;
    out
}

/// "merged N windows" / "would merge N windows" from a summary line.
fn merged_windows(summary: &str) -> u64 {
    let words: Vec<&str> = summary.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "windows")
        .expect("summary names windows");
    words[at - 1].parse().expect("a number of windows")
}

db_test!(
    compresses_by_the_rules_and_reruns_change_nothing,
    |t| async move {
        let channels = seed(&t).await;
        let db = t.db();
        let now = NOW.to_string();

        let dry = ok(t.url(), &["--now", &now, "--dry-run"]);
        assert!(dry.starts_with("dry run: would merge"), "{dry}");
        for (entity, _, data) in &channels {
            assert_eq!(&all(db, entity.id).await, data, "the dry run changed data");
        }

        // Several channels at once (three jobs for four channels).
        let real = ok(t.url(), &["--now", &now, "--jobs", "3"]);
        assert!(real.starts_with("merged "), "{real}");
        assert_eq!(merged_windows(&dry), merged_windows(&real));
        assert!(merged_windows(&real) > 0);
        let mut after_first = Vec::new();
        for (entity, function, data) in &channels {
            let after = all(db, entity.id).await;
            assert!(
                after.len() < data.len(),
                "{} was not compressed",
                entity.kind
            );
            check(data, &after, *function, &DEFAULT_TIERS);
            after_first.push(after);
        }
        let total: f64 = channels[0].2.iter().map(|r| r.value).sum();
        let kept: f64 = after_first[0].iter().map(|r| r.value).sum();
        assert_eq!(total, kept, "the impulse sum changed");

        let again = ok(t.url(), &["--now", &now]);
        assert_eq!(merged_windows(&again), 0, "{again}");
        for ((entity, _, _), before) in channels.iter().zip(&after_first) {
            assert_eq!(
                &all(db, entity.id).await,
                before,
                "a second run changed data"
            );
        }
    }
);

db_test!(
    honours_schemes_from_files_and_channel_choice,
    |t| async move {
        let channels = seed(&t).await;
        let db = t.db();
        let dir = tempfile::tempdir().unwrap();
        let (power, _, power_data) = &channels[0];
        let (meter, _, meter_data) = &channels[1];
        // The config's compress section: a 1 h window after 1 day for the meter only.
        let config = dir.path().join("config.yaml");
        std::fs::write(
        &config,
        format!(
            "db: {{driver: pdo_sqlite, path: /nonexistent}}\ncompress:\n  default: []\n  channels:\n    {}:\n      - {{older_than: 1d, window: 1h}}\n",
            meter.uuid.to_uppercase()
        ),
    )
    .unwrap();
        let now = NOW.to_string();
        let config_arg = config.display().to_string();
        ok(t.url(), &["--now", &now, "--config", &config_arg]);
        assert_eq!(
            &all(db, power.id).await,
            power_data,
            "default: [] compresses nothing"
        );
        let after = all(db, meter.id).await;
        check(meter_data, &after, Function::Max, &[(DAY, HOUR)]);

        // --scheme wins over the config, --channel limits the run.
        let scheme = dir.path().join("scheme.yaml");
        std::fs::write(&scheme, "default: {86400: 1800}\n").unwrap();
        let scheme_arg = scheme.display().to_string();
        ok(
            t.url(),
            &[
                "--now",
                &now,
                "--config",
                &config_arg,
                "--scheme",
                &scheme_arg,
                "--channel",
                &power.uuid,
            ],
        );
        check(
            power_data,
            &all(db, power.id).await,
            Function::Sum,
            &[(DAY, 30 * MIN)],
        );
        assert_eq!(
            all(db, meter.id).await,
            after,
            "--channel left the meter alone"
        );
        assert_eq!(&all(db, channels[2].0.id).await, &channels[2].2);
    }
);

db_test!(deletes_the_aggregates_of_changed_periods, |t| async move {
    let channels = seed(&t).await;
    let (power, _, _) = &channels[0];
    let (meter, _, _) = &channels[1];
    let quote = if t.backend() == middleware::Backend::MySql {
        '`'
    } else {
        '"'
    };
    let mut script = String::new();
    for (channel, kind, ts) in [
        (power.id, 2, NOW - 30 * DAY - 30 * MIN), // an hour in a merged range
        (power.id, 3, NOW - 30 * DAY),            // the day holding it
        (power.id, 2, NOW - 30 * MIN),            // the last hour: untouched data
        (meter.id, 2, NOW - 30 * MIN),
    ] {
        script.push_str(&format!(
            "INSERT INTO aggregate (channel_id, {quote}type{quote}, {quote}timestamp{quote}, {quote}value{quote}, {quote}count{quote}) VALUES ({channel}, {kind}, {ts}, 1, 1);"
        ));
    }
    t.execute(&script).await;
    let out = ok(
        t.url(),
        &["--now", &NOW.to_string(), "--channel", &power.uuid],
    );
    assert!(out.contains("deleted 2 aggregate rows"), "{out}");
    assert!(out.contains("vz-aggregate run --mode full"), "{out}");
    let page = t.db().read_page(Table::Aggregate, None, 100).await.unwrap();
    assert_eq!(
        page.lines(),
        [
            format!("{}|2|{}|1.0|1", power.id, NOW - 30 * MIN),
            format!("{}|2|{}|1.0|1", meter.id, NOW - 30 * MIN)
        ]
    );
});

db_test!(
    refuses_bad_channels_before_changing_anything,
    |t| async move {
        let channels = seed(&t).await;
        let group = t
            .db()
            .create_entity(&NewEntity {
                kind: "group".into(),
                uuid: None,
                properties: vec![("title".into(), "g".into())],
            })
            .await
            .unwrap();
        let missing = "00000000-0000-0000-0000-000000000000";
        for (uuid, message) in [
            (missing, "no channel with uuid"),
            (group.uuid.as_str(), "is a group"),
        ] {
            let out = vz_compress(
                t.url(),
                &[
                    "--now",
                    &NOW.to_string(),
                    "--channel",
                    &channels[0].0.uuid,
                    uuid,
                ],
            );
            assert_eq!(out.status.code(), Some(1));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains(message), "{stderr}");
        }
        assert_eq!(all(t.db(), channels[0].0.id).await, channels[0].2);
        let quiet = ok(t.url(), &["--now", &NOW.to_string(), "--quiet"]);
        assert_eq!(quiet, "");
    }
);

/// Readings of `channel` grouped by minute window.
fn by_window(readings: &[Reading]) -> std::collections::BTreeMap<i64, Vec<Reading>> {
    let mut windows: std::collections::BTreeMap<i64, Vec<Reading>> = Default::default();
    for reading in readings {
        windows
            .entry(reading.timestamp.div_euclid(MIN))
            .or_default()
            .push(*reading);
    }
    windows
}

db_test!(
    a_killed_run_leaves_every_window_merged_or_untouched,
    |t| async move {
        let db = t.db();
        let power = db.create_entity(&channel("power", "kill")).await.unwrap();
        // Ten hours, one impulse count a second, 20 days old: 600 windows, one per transaction.
        let start = NOW - 20 * DAY - 10 * HOUR;
        let original: Vec<Reading> = (0..36_000_i64)
            .map(|i| Reading {
                timestamp: start + i * SECOND + i % 7,
                value: f64::from(u8::try_from(1 + i % 4).unwrap()),
            })
            .collect();
        db.insert_readings(power.id, &original).await.unwrap();
        let total: f64 = original.iter().map(|r| r.value).sum();
        let dir = tempfile::tempdir().unwrap();
        let scheme = dir.path().join("scheme.yaml");
        std::fs::write(&scheme, "default: [{older_than: 1d, window: 1m}]\n").unwrap();

        let mut child = Command::new(env!("CARGO_BIN_EXE_vz-compress"))
            .arg("--db")
            .arg(t.url())
            .args(["--now", &NOW.to_string(), "--batch-windows", "1", "--quiet"])
            .arg("--scheme")
            .arg(&scheme)
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill it once some windows are merged, long before all 600 are.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = db
                .reading_span(power.id, i64::MIN, i64::MAX)
                .await
                .unwrap()
                .map_or(0, |s| s.count);
            if left < 36_000 - 20 * 59 {
                break;
            }
            assert!(Instant::now() < deadline, "vz-compress made no progress");
            assert!(
                child.try_wait().unwrap().is_none(),
                "vz-compress ended too early"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let after = all(db, power.id).await;
        let before = by_window(&original);
        let now = by_window(&after);
        let (mut merged, mut untouched) = (0, 0);
        for (window, readings) in &before {
            let left = &now[window];
            if left == readings {
                untouched += 1;
            } else {
                assert_eq!(left.len(), 1, "window {window} half merged: {left:?}");
                assert_eq!(left[0].timestamp, readings.last().unwrap().timestamp);
                assert_eq!(left[0].value, readings.iter().map(|r| r.value).sum::<f64>());
                merged += 1;
            }
        }
        assert_eq!(now.len(), before.len());
        assert!(
            merged > 0 && untouched > 0,
            "merged {merged}, untouched {untouched}"
        );
        assert_eq!(after.iter().map(|r| r.value).sum::<f64>(), total);

        // Running again finishes the job.
        let scheme_arg = scheme.display().to_string();
        ok(
            t.url(),
            &["--now", &NOW.to_string(), "--scheme", &scheme_arg],
        );
        let done = all(db, power.id).await;
        assert_eq!(done.len(), before.len());
        assert_eq!(done.iter().map(|r| r.value).sum::<f64>(), total);
    }
);
