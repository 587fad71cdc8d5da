//! What every tool does at its edges, run as the real binaries: how an error is reported (one
//! line, each cause once, status 1), which SQLite files a tool may create, and a stdout pipe
//! whose reader has gone.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The four tools' binaries.
const CHANNEL: &str = env!("CARGO_BIN_EXE_vz-channel");
const AGGREGATE: &str = env!("CARGO_BIN_EXE_vz-aggregate");
const COMPRESS: &str = env!("CARGO_BIN_EXE_vz-compress");
const DBCOPY: &str = env!("CARGO_BIN_EXE_vz-dbcopy");

/// Runs a tool in `dir` (so no `./config.yaml` is found) without the caller's
/// `DATABASE_URL`, with the embedded default inside `dir`.
fn run(binary: &str, dir: &Path, args: &[&str]) -> Output {
    command(binary, dir, args).output().unwrap()
}

fn command(binary: &str, dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(binary);
    command
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("XDG_DATA_HOME", dir.join("data"))
        .stdin(Stdio::null());
    command
}

/// Checks that a run failed with status 1 and one line `<tool>: …` on stderr that contains
/// `cause` exactly once; returns that line.
fn one_line_failure(output: &Output, tool: &str, cause: &str) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{tool}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{tool}: {stderr}");
    assert!(stderr.starts_with(&format!("{tool}: ")), "{stderr}");
    assert_eq!(stderr.matches(cause).count(), 1, "{tool}: {stderr}");
    stderr
}

#[test]
fn an_unreachable_database_is_reported_once_and_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: the connection is refused at once.
    let mysql = "mysql://root@127.0.0.1:1/x";
    let postgres = "postgres://postgres@127.0.0.1:1/x";
    let target = format!("sqlite://{}", dir.path().join("t.sqlite3").display());
    let started = std::time::Instant::now();
    for (binary, tool, args) in [
        (CHANNEL, "vz-channel", vec!["--db", mysql, "list"]),
        (AGGREGATE, "vz-aggregate", vec!["--db", postgres]),
        (COMPRESS, "vz-compress", vec!["--db", mysql]),
        (
            DBCOPY,
            "vz-dbcopy",
            vec!["--source", postgres, "--target", &target, "copy"],
        ),
    ] {
        let output = run(binary, dir.path(), &args);
        let line = one_line_failure(&output, tool, "Connection refused");
        assert!(line.contains("127.0.0.1:1/x"), "{line}");
    }
    // The pool alone retries for 30 s and then says only "pool timed out".
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_bad_config_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "db: {driver: pdo_oracle}\n").unwrap();
    let config = config.display().to_string();
    for (binary, tool) in [
        (CHANNEL, "vz-channel"),
        (AGGREGATE, "vz-aggregate"),
        (COMPRESS, "vz-compress"),
    ] {
        let mut args = vec!["--config", config.as_str()];
        if binary == CHANNEL {
            args.push("list");
        }
        let output = run(binary, dir.path(), &args);
        one_line_failure(&output, tool, "pdo_oracle");
    }
    let dbcopy = dir.path().join("dbcopy.yaml");
    std::fs::write(&dbcopy, "source: [unclosed\n").unwrap();
    let output = run(
        DBCOPY,
        dir.path(),
        &["--config", &dbcopy.display().to_string(), "copy"],
    );
    one_line_failure(&output, "vz-dbcopy", "did not find expected");
}

#[test]
fn commands_refuse_a_sqlite_file_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.sqlite3");
    let url = format!("sqlite://{}", typo.display());
    let source = dir.path().join("copy.sqlite3").display().to_string();
    let uuid = "00000000-0000-4000-8000-000000000000";
    for (binary, tool, args) in [
        (CHANNEL, "vz-channel", vec!["--db", &url, "list"]),
        (CHANNEL, "vz-channel", vec!["--db", &url, "show", uuid]),
        (CHANNEL, "vz-channel", vec!["--db", &url, "delete", uuid]),
        (AGGREGATE, "vz-aggregate", vec!["--db", &url]),
        (COMPRESS, "vz-compress", vec!["--db", &url]),
        (
            DBCOPY,
            "vz-dbcopy",
            vec!["--source", &url, "--target", &source, "copy"],
        ),
    ] {
        let output = run(binary, dir.path(), &args);
        let line = one_line_failure(&output, tool, "does not exist");
        assert!(
            line.contains(&format!(
                "the SQLite database {} does not exist",
                typo.display()
            )),
            "{line}"
        );
        assert!(!typo.exists(), "{tool} {args:?} created {}", typo.display());
    }
    assert!(!Path::new(&source).exists(), "the copy began");
    assert!(!dir.path().join("data").exists(), "the default was created");
}

#[test]
fn add_creates_a_new_file_and_the_embedded_default_is_created_on_first_use() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new/vz.sqlite3");
    let url = format!("sqlite://{}", new.display());
    let add = [
        "--db",
        &url,
        "add",
        "--type",
        "power",
        "--title",
        "Flat",
        "--resolution",
        "1000",
    ];
    let output = run(CHANNEL, dir.path(), &add);
    assert!(output.status.success(), "{output:?}");
    let list = run(CHANNEL, dir.path(), &["--db", &url, "list"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("Flat"));

    // No --db, DATABASE_URL or --config: the embedded default, even for reading.
    let default = dir.path().join("data/volkszaehler/volkszaehler.sqlite3");
    let output = run(CHANNEL, dir.path(), &["list"]);
    assert!(output.status.success(), "{output:?}");
    assert!(default.is_file());
}

/// A pipe whose reading end is closed already: every write to it fails with EPIPE.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Stdio::from(writer)
}

#[test]
fn a_closed_stdout_ends_the_tool_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("vz.sqlite3").display());
    let add = [
        "--db",
        &url,
        "add",
        "--type",
        "power",
        "--title",
        "Flat",
        "--resolution",
        "1000",
    ];
    assert!(run(CHANNEL, dir.path(), &add).status.success());
    for (binary, args) in [
        (CHANNEL, vec!["types"]),
        (CHANNEL, vec!["--db", &url, "list"]),
        (COMPRESS, vec!["--db", &url]),
    ] {
        let output = command(binary, dir.path(), &args)
            .stdout(closed_pipe())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
}

/// volkszaehler's shipped config template, with only `db:` replaced, is read by every tool.
#[test]
fn every_tool_reads_the_upstream_config_template() {
    let dir = tempfile::tempdir().unwrap();
    let dist = include_str!("../../push-core/tests/fixtures/config.dist.yaml");
    let start = dist.find("\ndb:\n").unwrap() + 1;
    let end = dist.find("\npush:\n").unwrap() + 1;
    let file = dir.path().join("vz.sqlite3");
    let config = format!(
        "{}db:\n  driver: pdo_sqlite\n  path: {}\n\n{}",
        &dist[..start],
        file.display(),
        &dist[end..]
    );
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config).unwrap();
    let path = path.to_str().unwrap();
    // vz-channel may create the file; the others then find it.
    let add = run(
        CHANNEL,
        dir.path(),
        &[
            "--config",
            path,
            "add",
            "--type",
            "temperature",
            "--title",
            "dist",
        ],
    );
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    for (binary, args) in [
        (CHANNEL, vec!["--config", path, "list"]),
        (AGGREGATE, vec!["--config", path, "--quiet"]),
        (COMPRESS, vec!["--config", path, "--quiet"]),
    ] {
        let output = run(binary, dir.path(), &args);
        assert!(
            output.status.success(),
            "{binary} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
