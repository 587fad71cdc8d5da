//! The `push-server` binary: startup banner, a real push, and graceful shutdown on SIGTERM and
//! SIGINT (clients get close 1001, the process exits 0), also with closed stdout/stderr; SIGHUP
//! re-reads channel metadata and keeps clients; the upstream config template is served.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

struct Running {
    child: Child,
    ingest: String,
    broadcast: String,
    banner: Vec<String>,
}

/// The binary on free loopback ports, with the database `--db sqlite://<db>` (or none, for a
/// config file), without the caller's `DATABASE_URL` and `RUST_LOG`, stdout piped.
fn push_server(db: Option<&std::path::Path>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_push-server"));
    if let Some(db) = db {
        command.args(["--db", &format!("sqlite://{}", db.display())]);
    }
    command
        .args(["--ingest", "127.0.0.1:0", "--broadcast", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped());
    command
}

fn spawn(db: &std::path::Path) -> Running {
    let mut child = push_server(Some(db)).stderr(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    let (mut ingest, mut broadcast) = (None, None);
    while ingest.is_none()
        || broadcast.is_none()
        || !banner
            .last()
            .is_some_and(|l: &String| l.contains("plain WebSocket"))
    {
        let line = lines.next().expect("banner line").unwrap();
        if let Some(addr) = line.strip_prefix("ingest:    http://") {
            ingest = addr.split_whitespace().next().map(str::to_owned);
        }
        if let Some(addr) = line.strip_prefix("broadcast: ws://") {
            broadcast = Some(addr.trim().to_owned());
        }
        banner.push(line);
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Running {
        child,
        ingest: ingest.unwrap(),
        broadcast: broadcast.unwrap(),
        banner,
    }
}

async fn stops_gracefully_on(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = spawn(&dir.path().join("vz.sqlite3"));
    assert_eq!(
        server.banner[0],
        format!("Volkszaehler Push Server {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(
        server
            .banner
            .iter()
            .any(|l| l.trim() == "WAMP v1 routes:          /, /ws"),
        "{:?}",
        server.banner
    );
    assert!(
        server
            .banner
            .iter()
            .any(|l| l.trim() == "plain WebSocket routes:  /socket"),
        "{:?}",
        server.banner
    );

    let response = reqwest::Client::new()
        .post(format!("http://{}/", server.ingest))
        .body("{\"data\":[]}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.text().await.unwrap(),
        "{\"version\":\"0.3\",\"data\":[]}"
    );

    let mut request = format!("ws://{}/ws", server.broadcast)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("wamp"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let welcome = common::next_text(&mut socket).await;
    assert!(welcome.starts_with("[0,"));

    let status = Command::new("kill")
        .args([signal, &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    match tokio::time::timeout(common::PATIENCE, socket.next())
        .await
        .unwrap()
    {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected close 1001, got {other:?}"),
    }
    drop(socket);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "server did not exit after {signal}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn sigterm_shuts_down_gracefully() {
    stops_gracefully_on("-TERM").await;
}

#[tokio::test]
async fn sigint_shuts_down_gracefully() {
    stops_gracefully_on("-INT").await;
}

#[test]
fn a_bad_listen_address_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_push-server"))
        .args([
            "--db",
            &format!("sqlite://{}", dir.path().join("vz.sqlite3").display()),
        ])
        .args(["--ingest", "nonsense:port"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid listen address 'nonsense:port'"),
        "{stderr}"
    );
}

/// Waits for the child to exit, failing after `within`.
fn exit_within(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            return exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running after {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn sigterm_ends_the_server_even_with_stdout_and_stderr_closed() {
    let dir = tempfile::tempdir().unwrap();
    // Both pipes are closed right after the banner, as by `push-server | head` or a journald
    // restart.
    let mut child = push_server(Some(&dir.path().join("vz.sqlite3")))
        .args(["--log-level", "debug"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut ingest = None;
    while ingest.is_none() {
        let line = lines.next().expect("banner line").unwrap();
        if let Some(addr) = line.strip_prefix("ingest:    http://") {
            ingest = addr.split_whitespace().next().map(str::to_owned);
        }
    }
    drop(lines);
    drop(stderr);
    // Pushes that log (rejections are warnings) now write into closed pipes.
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let response = client
            .post(format!("http://{}/", ingest.as_deref().unwrap()))
            .body("not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
    }
    kill(&child, "-TERM");
    let exit = exit_within(&mut child, Duration::from_secs(5));
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn sighup_rereads_metadata_and_keeps_clients() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vz.sqlite3");
    let url = format!("sqlite://{}", file.display());
    let db = middleware::Db::connect(&url).await.unwrap();
    let uuid = db
        .create_entity(&middleware::NewEntity {
            kind: "power".into(),
            uuid: None,
            properties: vec![
                ("title".into(), "hup".into()),
                ("resolution".into(), "1000".into()),
            ],
        })
        .await
        .unwrap()
        .uuid;
    let mut server = spawn(&file);
    let mut request = format!("ws://{}/ws", server.broadcast)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("wamp"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    common::next_text(&mut socket).await;
    futures_util::SinkExt::send(&mut socket, Message::text(format!("[5,\"{uuid}\"]")))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let push = |ts: u32| {
        client
            .post(format!("http://{}/", server.ingest))
            .body(format!(
                "{{\"data\":[{{\"uuid\":\"{uuid}\",\"tuples\":[[{ts},1]]}}]}}"
            ))
            .send()
    };
    push(1000).await.unwrap();
    // The resolution changes and SIGHUP makes the server re-read it at once.
    db.set_property(&uuid, "resolution", "500").await.unwrap();
    kill(&server.child, "-HUP");
    // The re-read is in the background; pushes until the new resolution shows (500 per kWh:
    // 1 impulse in 1 s = 7200 W), each one answered and broadcast to the same subscriber.
    let mut ts = 1000;
    let deadline = std::time::Instant::now() + common::PATIENCE;
    loop {
        ts += 1000;
        let response = push(ts).await.unwrap();
        assert_eq!(response.status(), 200);
        let event = common::next_text(&mut socket).await;
        assert!(event.starts_with("[8,"), "{event}");
        if event.contains(&format!("[[{ts},7200,1]]")) {
            break;
        }
        assert!(event.contains(&format!("[[{ts},3600,1]]")), "{event}");
        assert!(std::time::Instant::now() < deadline, "SIGHUP had no effect");
    }
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "SIGHUP ended the server"
    );
    kill(&server.child, "-TERM");
    assert!(exit_within(&mut server.child, Duration::from_secs(10)).success());
    db.close().await;
}

#[tokio::test]
async fn the_upstream_dist_config_with_only_db_changed_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let dist = include_str!("../../push-core/tests/fixtures/config.dist.yaml");
    // Replace the db section as a user would, and write the routes without a slash as some
    // installations do.
    let start = dist.find("\ndb:\n").unwrap() + 1;
    let end = dist.find("\npush:\n").unwrap() + 1;
    let config = format!(
        "{}db:\n  driver: pdo_sqlite\n  path: {}\n\n{}",
        &dist[..start],
        dir.path().join("vz.sqlite3").display(),
        dist[end..].replace("    - /ws", "    - ws")
    );
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config).unwrap();
    let mut child = push_server(None)
        .arg("--config")
        .arg(&path)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    while !banner
        .last()
        .is_some_and(|l: &String| l.contains("plain WebSocket"))
    {
        match lines.next() {
            Some(Ok(line)) => banner.push(line),
            _ => {
                let mut stderr = String::new();
                std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
                    .unwrap();
                panic!("no banner; stderr: {stderr}");
            }
        }
    }
    assert!(
        banner
            .iter()
            .any(|l| l.trim() == "WAMP v1 routes:          /, /ws"),
        "{banner:?}"
    );
    kill(&child, "-TERM");
    assert!(exit_within(&mut child, Duration::from_secs(10)).success());
}
