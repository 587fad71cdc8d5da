//! `vz-channel` end to end: the real binary against a temporary SQLite file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn db_path(&self) -> PathBuf {
        self.dir.path().join("vz.sqlite3")
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.db_path().display())
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vz-channel"));
        cmd.arg("--db")
            .arg(self.url())
            .args(args)
            .env_remove("DATABASE_URL");
        cmd.output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "{args:?} unexpectedly succeeded");
        assert_eq!(out.status.code(), Some(1), "{args:?} exit code");
        String::from_utf8(out.stderr).unwrap()
    }

    fn uuids(&self) -> Vec<String> {
        self.ok(&["list"])
            .lines()
            .skip(1)
            .map(|l| l[..36].to_owned())
            .collect()
    }
}

fn field<'a>(show: &'a str, key: &str) -> Option<&'a str> {
    show.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim_start())
    })
}

#[test]
fn power_channel_is_added_and_shown() {
    let ws = Workspace::new();
    let uuid = ws.ok(&[
        "add",
        "--type",
        "power",
        "--title",
        "Kitchen",
        "--resolution",
        "1000",
    ]);
    let uuid = uuid.trim();
    assert_eq!(uuid.len(), 36);
    assert_eq!(uuid, uuid.to_lowercase());
    assert!(
        ws.db_path().exists(),
        "the SQLite file is created on first use"
    );

    let show = ws.ok(&["show", uuid]);
    assert_eq!(field(&show, "uuid"), Some(uuid));
    assert_eq!(field(&show, "type"), Some("power"));
    assert_eq!(field(&show, "class"), Some("channel"));
    assert_eq!(field(&show, "interpreter"), Some("impulse"));
    assert_eq!(field(&show, "unit"), Some("W"));
    assert_eq!(field(&show, "scale"), Some("1000"));
    assert_eq!(field(&show, "resolution"), Some("1000"));
    assert_eq!(field(&show, "title"), Some("Kitchen"));

    let list = ws.ok(&["list"]);
    let row = list.lines().nth(1).unwrap();
    assert!(
        row.starts_with(uuid) && row.contains("power") && row.ends_with("Kitchen"),
        "{row}"
    );
}

#[test]
fn given_uuid_is_normalised_and_properties_are_stored() {
    let ws = Workspace::new();
    let out = ws.ok(&[
        "add",
        "--type",
        "temperature",
        "--title",
        "Outside",
        "--uuid",
        "13DF0000-097B-11EB-A092-174646E1882D",
        "-p",
        "style=lines",
        "-p",
        "public=yes",
    ]);
    assert_eq!(out.trim(), "13df0000-097b-11eb-a092-174646e1882d");
    let show = ws.ok(&["show", "13df0000-097b-11eb-a092-174646e1882d"]);
    assert_eq!(field(&show, "unit"), Some("°C"));
    assert_eq!(field(&show, "resolution"), Some("1 (default)"));
    assert_eq!(field(&show, "style"), Some("lines"));
    assert_eq!(
        field(&show, "public"),
        Some("1"),
        "booleans are stored as 1/0"
    );
}

#[test]
fn unknown_type_is_refused_and_changes_nothing() {
    let ws = Workspace::new();
    let err = ws.fails(&["add", "--type", "powr", "--title", "X", "--resolution", "1"]);
    assert!(err.contains("unknown type 'powr'"), "{err}");
    assert!(ws.uuids().is_empty());
}

#[test]
fn missing_required_property_is_refused_and_changes_nothing() {
    let ws = Workspace::new();
    let err = ws.fails(&["add", "--type", "power", "--title", "No resolution"]);
    assert!(err.contains("resolution"), "{err}");
    assert!(ws.uuids().is_empty());
}

#[test]
fn invalid_values_are_refused_and_change_nothing() {
    let ws = Workspace::new();
    let err = ws.fails(&[
        "add",
        "--type",
        "power",
        "--title",
        "Zero",
        "--resolution",
        "0",
    ]);
    assert!(err.contains("resolution"), "{err}");
    let err = ws.fails(&[
        "add",
        "--type",
        "power",
        "--title",
        "a<b",
        "--resolution",
        "1",
    ]);
    assert!(err.contains("title"), "{err}");
    let err = ws.fails(&[
        "add",
        "--type",
        "power",
        "--title",
        "S",
        "--resolution",
        "1",
        "-p",
        "style=bars",
    ]);
    assert!(err.contains("style"), "{err}");
    let err = ws.fails(&[
        "add",
        "--type",
        "power",
        "--title",
        "S",
        "--resolution",
        "1",
        "-p",
        "rule=x",
    ]);
    assert!(err.contains("rule"), "{err}");
    assert!(ws.uuids().is_empty());

    let uuid = ws.ok(&[
        "add",
        "--type",
        "power",
        "--title",
        "Meter",
        "--resolution",
        "500",
    ]);
    let uuid = uuid.trim();
    // One valid and one invalid assignment: neither is applied.
    let err = ws.fails(&["set", uuid, "style=points", "resolution=-1"]);
    assert!(err.contains("resolution"), "{err}");
    let show = ws.ok(&["show", uuid]);
    assert_eq!(field(&show, "resolution"), Some("500"));
    assert_eq!(field(&show, "style"), None);
    // A required property cannot be removed.
    let err = ws.fails(&["unset", uuid, "resolution"]);
    assert!(err.contains("resolution"), "{err}");
    assert_eq!(field(&ws.ok(&["show", uuid]), "resolution"), Some("500"));
}

#[test]
fn set_unset_and_delete() {
    let ws = Workspace::new();
    let uuid = ws.ok(&[
        "add",
        "--type",
        "electric meter",
        "--title",
        "Main",
        "--resolution",
        "1000",
    ]);
    let uuid = uuid.trim();
    ws.ok(&["set", uuid, "resolution=2000", "color=ff0000"]);
    let show = ws.ok(&["show", uuid]);
    assert_eq!(field(&show, "resolution"), Some("2000"));
    assert_eq!(field(&show, "color"), Some("ff0000"));
    ws.ok(&["unset", uuid, "color"]);
    assert_eq!(field(&ws.ok(&["show", uuid]), "color"), None);

    ws.ok(&["delete", uuid]);
    assert!(ws.uuids().is_empty());
    let err = ws.fails(&["show", uuid]);
    assert!(err.contains(uuid), "{err}");
}

#[test]
fn groups_take_members() {
    let ws = Workspace::new();
    let group = ws
        .ok(&["add", "--type", "group", "--title", "House"])
        .trim()
        .to_owned();
    let child = ws.ok(&[
        "add",
        "--type",
        "power",
        "--title",
        "Kitchen",
        "--resolution",
        "1000",
    ]);
    let child = child.trim();
    ws.ok(&["attach", &group, child]);
    let err = ws.fails(&["attach", child, &group]);
    assert!(!err.is_empty());
    ws.ok(&["detach", &group, child]);
    ws.ok(&["delete", &group]);
    assert_eq!(ws.uuids(), vec![child.to_owned()]);
}

#[test]
fn types_lists_all_38_definitions() {
    let ws = Workspace::new();
    let out = ws.ok(&["types"]);
    assert_eq!(out.lines().count(), 39, "header + 38 types");
    let power = out.lines().find(|l| l.starts_with("power ")).unwrap();
    assert!(
        power.contains("impulse") && power.contains(" W ") && power.contains("title, resolution"),
        "{power}"
    );
    assert!(!ws.db_path().exists(), "types needs no database");
}

#[test]
fn config_file_and_env_select_the_database() {
    let ws = Workspace::new();
    let config = ws.dir.path().join("config.yaml");
    let db = ws.dir.path().join("from-config.db3");
    std::fs::write(
        &config,
        format!("db:\n  driver: pdo_sqlite\n  path: {}\n", db.display()),
    )
    .unwrap();
    let run = |args: &[&str], env_url: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vz-channel"));
        cmd.args(args).env_remove("DATABASE_URL");
        if let Some(url) = env_url {
            cmd.env("DATABASE_URL", url);
        }
        cmd.output().unwrap()
    };
    let cfg = config.to_str().unwrap();
    let out = run(
        &["--config", cfg, "add", "--type", "voltage", "--title", "L1"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.exists());

    let env_db = ws.dir.path().join("from-env.db3");
    let env_url = format!("sqlite://{}", env_db.display());
    let out = run(
        &["add", "--type", "voltage", "--title", "L2"],
        Some(&env_url),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(env_db.exists());

    let out = run(&["--config", "/nonexistent/config.yaml", "list"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/config.yaml"));
    assert!(!Path::new("/nonexistent").exists());
}
