//! The `push-server` binary: startup banner, a real push, and graceful shutdown on SIGTERM and
//! SIGINT (clients get close 1001, the process exits 0).

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

fn spawn(db: &std::path::Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_push-server"))
        .args(["--db", &format!("sqlite://{}", db.display())])
        .args(["--ingest", "127.0.0.1:0", "--broadcast", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
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
