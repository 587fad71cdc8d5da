//! A push-server on port 0 with real HTTP and WebSocket clients.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use middleware::{Db, NewEntity};
use push_server::{Listeners, PushServer, ServerConfig};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

pub mod proxy;

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub struct TestServer {
    pub ingest: SocketAddr,
    pub broadcast: SocketAddr,
    pub server: Arc<PushServer>,
    pub db: Db,
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
    http: reqwest::Client,
}

pub async fn start(db: Db) -> TestServer {
    start_with(db, ServerConfig::default()).await
}

pub async fn start_with(db: Db, config: ServerConfig) -> TestServer {
    let ingest = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let broadcast = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (ingest_addr, broadcast_addr) = (
        ingest.local_addr().unwrap(),
        broadcast.local_addr().unwrap(),
    );
    let server = Arc::new(PushServer::new(config, db.clone()));
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let server = server.clone();
        let shutdown = shutdown.clone();
        async move {
            server
                .run(
                    Listeners {
                        ingest: vec![ingest],
                        broadcast: vec![broadcast],
                        ..Listeners::default()
                    },
                    shutdown,
                )
                .await
        }
    });
    TestServer {
        ingest: ingest_addr,
        broadcast: broadcast_addr,
        server,
        db,
        shutdown,
        task,
        http: reqwest::Client::new(),
    }
}

impl TestServer {
    /// POSTs a body to `/` and returns status and body text.
    pub async fn push(&self, body: &str) -> (u16, String) {
        self.push_to("/", body).await
    }

    pub async fn push_to(&self, path: &str, body: &str) -> (u16, String) {
        let response = self
            .http
            .post(format!("http://{}{path}", self.ingest))
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Pushes one channel's tuples (JSON array text).
    pub async fn push_tuples(&self, uuid: &str, tuples: &str) -> (u16, String) {
        self.push(&format!(
            "{{\"data\":[{{\"uuid\":\"{uuid}\",\"tuples\":{tuples}}}]}}"
        ))
        .await
    }

    /// Connects with the `wamp` subprotocol and returns the socket and the WELCOME frame.
    pub async fn wamp(&self, path: &str) -> (Socket, String) {
        let mut socket = self
            .connect(path, Some("wamp"))
            .await
            .expect("WAMP handshake");
        let welcome = next_text(&mut socket).await;
        (socket, welcome)
    }

    /// Connects to `path` (with query) offering `subprotocol`.
    pub async fn connect(
        &self,
        path: &str,
        subprotocol: Option<&str>,
    ) -> Result<Socket, tungstenite::Error> {
        let mut request = format!("ws://{}{path}", self.broadcast)
            .into_client_request()
            .unwrap();
        if let Some(protocol) = subprotocol {
            request.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_str(protocol).unwrap(),
            );
        }
        tokio_tungstenite::connect_async(request)
            .await
            .map(|(socket, _)| socket)
    }

    /// Subscribes and waits until the hub has registered it.
    pub async fn subscribe(&self, socket: &mut Socket, topic: &str) {
        let before = self.server.hub().subscriber_count(topic);
        socket
            .send(Message::text(format!("[5,\"{topic}\"]")))
            .await
            .unwrap();
        self.wait_for(|| self.server.hub().subscriber_count(topic) > before)
            .await;
    }

    pub async fn wait_for(&self, mut condition: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !condition() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "condition not met within {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until `n` sessions are registered with the hub.
    pub async fn wait_sessions(&self, n: usize) {
        self.wait_for(|| self.server.hub().session_count() == n)
            .await;
    }

    /// Creates a channel and returns its UUID.
    pub async fn channel(&self, kind: &str, resolution: Option<&str>) -> String {
        let mut properties = vec![("title".to_owned(), format!("test {kind}"))];
        if let Some(resolution) = resolution {
            properties.push(("resolution".to_owned(), resolution.to_owned()));
        }
        let entity = self
            .db
            .create_entity(&NewEntity {
                kind: kind.to_owned(),
                uuid: None,
                properties,
            })
            .await
            .unwrap();
        entity.uuid
    }

    pub async fn stop(self) -> std::io::Result<()> {
        self.shutdown.cancel();
        self.task.await.unwrap()
    }
}

/// The next text frame, failing the test after [`PATIENCE`].
pub async fn next_text(socket: &mut Socket) -> String {
    match next_message(socket).await {
        Message::Text(text) => text.to_string(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

pub async fn next_message(socket: &mut Socket) -> Message {
    tokio::time::timeout(PATIENCE, socket.next())
        .await
        .expect("no frame within the patience window")
        .expect("socket ended")
        .expect("socket error")
}

/// Proves that nothing else is queued for `socket`, without waiting for "nothing": pushes a
/// reading at `ts` (value `ts`, rising for meters) to `uuid` (a channel the socket receives,
/// already primed) and asserts that
/// the very next frame is that reading's.
pub async fn assert_next_is_sentinel(
    server: &TestServer,
    socket: &mut Socket,
    uuid: &str,
    ts: i64,
) {
    let (status, body) = server.push_tuples(uuid, &format!("[[{ts},{ts}]]")).await;
    assert_eq!(status, 200, "{body}");
    let frame = next_text(socket).await;
    assert!(
        frame.contains(uuid) && frame.contains(&format!("[[{ts},")),
        "expected only the sentinel reading {uuid} at {ts}, got {frame}"
    );
}

/// A test that does not depend on the database backend: run once, on SQLite, with the same
/// `|t| async move { … }` body form as `db_test!`.
#[macro_export]
macro_rules! ws_test {
    ($name:ident, |$t:ident| $body:expr) => {
        #[::tokio::test]
        async fn $name() {
            ::middleware::testing::run(
                ::middleware::testing::TestBackend::Sqlite,
                ::middleware::testing::Setup::Schema,
                |$t| $body,
            )
            .await;
        }
    };
}

/// The close code the server sent (the socket must be closing).
pub async fn close_code(socket: &mut Socket) -> u16 {
    loop {
        match tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("no close within patience")
        {
            Some(Ok(Message::Close(Some(frame)))) => return frame.code.into(),
            Some(Ok(Message::Close(None))) => return 1005,
            Some(Ok(_)) => {}
            Some(Err(err)) => panic!("socket error before close: {err}"),
            None => panic!("socket ended without close frame"),
        }
    }
}

pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}
