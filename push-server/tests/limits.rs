//! What a stranger (or a logger with a broken clock) can make the server spend, and that the
//! limits hold: far-future timestamps, idle and slow connections, random UUIDs, subscription
//! floods, silent WebSocket clients. These do not depend on the database backend, so they run
//! once, on SQLite.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{TestServer, close_code, json, next_text, start_with};
use futures_util::SinkExt;
use middleware::NewEntity;
use middleware::testing::{TestBackend, TestDb};
use push_server::ServerConfig;
use push_server::serve::ConnectionLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

async fn server(config: ServerConfig) -> (TestServer, TestDb) {
    let db = TestDb::new(TestBackend::Sqlite).await.expect("SQLite");
    (start_with(db.db().clone(), config).await, db)
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// A metric's value in the text exposition (`name{labels} value`).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
}

#[tokio::test]
async fn far_future_timestamps_are_refused_and_the_channel_keeps_working() {
    let (server, _db) = server(ServerConfig::default()).await;
    let uuid = server.channel("power", Some("1000")).await;
    let now = now_ms();
    for ts in ["1e308", "9223372036854775807", "32503680000000", "-5"] {
        let (status, body) = server.push_tuples(&uuid, &format!("[[{ts},1]]")).await;
        assert_eq!(status, 422, "{ts}: {body}");
        let body = json(&body);
        assert_eq!(body["exception"]["type"], "InvalidTimestamp", "{ts}");
        assert_eq!(body["exception"]["channels"][0]["uuid"], uuid.as_str());
        assert_eq!(body["data"], json("[]"), "nothing was converted");
    }
    // A far-future tuple refuses its whole entry: the good tuple beside it does not prime.
    let (status, _) = server
        .push_tuples(&uuid, &format!("[[{},1],[1e308,1]]", now - 3000))
        .await;
    assert_eq!(status, 422);
    let (status, body) = server
        .push_tuples(&uuid, &format!("[[{},1],[{},1]]", now - 2000, now - 1000))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        json(&body)["data"][0]["tuples"],
        json(&format!("[[{},3600,1]]", now - 1000))
    );
    let (_, body) = server.push_tuples(&uuid, "[[1e308,1]]").await;
    assert!(
        json(&body)["exception"]["message"]
            .as_str()
            .unwrap()
            .contains("is more than 86400 s ahead of the server clock"),
        "{body}"
    );
    let metrics = server.server.metrics_text();
    assert_eq!(
        metric(
            &metrics,
            "vz_channel_rejections_total{kind=\"invalid_timestamp\"}"
        ),
        6.0
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn idle_and_slow_connections_do_not_stop_a_push() {
    let limits = ConnectionLimits {
        max_connections: 50,
        header_timeout: Duration::from_millis(300),
        shutdown_grace: Duration::from_secs(1),
    };
    let config = ServerConfig {
        ingest_connections: limits,
        body_timeout: Duration::from_millis(500),
        ..ServerConfig::default()
    };
    let (server, _db) = server(config).await;
    let uuid = server.channel("temperature", None).await;

    // Slowloris in the head: one byte at a time, never finishing. The server hangs up.
    let mut slow_head = TcpStream::connect(server.ingest).await.unwrap();
    slow_head
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let dripping = tokio::spawn(async move {
        let started = Instant::now();
        let mut buf = [0u8; 256];
        loop {
            if slow_head.write_all(b"X").await.is_err() {
                break;
            }
            let read =
                tokio::time::timeout(Duration::from_millis(100), slow_head.read(&mut buf)).await;
            if let Ok(Ok(0) | Err(_)) = read {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "never closed");
        }
    });

    // Slow body: a 408 with the volkszaehler exception JSON.
    let mut slow_body = TcpStream::connect(server.ingest).await.unwrap();
    slow_body
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(common::PATIENCE, slow_body.read_to_string(&mut answer))
        .await
        .expect("answered")
        .ok();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"type\":\"RequestTimeout\""), "{answer}");

    // A crowd of idle connections, far over the cap.
    let connects = (0..2000)
        .map(|_| tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(server.ingest)));
    let mut idle: Vec<TcpStream> = futures_util::future::join_all(connects)
        .await
        .into_iter()
        .filter_map(|c| c.ok().and_then(Result::ok))
        .collect();
    // Far more than the cap got through the kernel's backlog.
    assert!(idle.len() > 100, "only {} connected", idle.len());

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let response = client
        .post(format!("http://{}/", server.ingest))
        .body(format!(
            "{{\"data\":[{{\"uuid\":\"{uuid}\",\"tuples\":[[1,20],[2,21]]}}]}}"
        ))
        .send()
        .await
        .expect("the push is answered despite the idle crowd");
    assert_eq!(response.status(), 200);
    assert_eq!(
        json(&response.text().await.unwrap())["data"][0]["tuples"],
        json("[[2,21,1]]")
    );
    // The first idle connection was closed by the server, not kept forever.
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(common::PATIENCE, idle[0].read(&mut buf))
        .await
        .expect("closed within patience")
        .unwrap_or(0);
    assert_eq!(n, 0);
    dripping.await.unwrap();
    let metrics = server.server.metrics_text();
    assert!(metric(&metrics, "vz_tcp_connections{listener=\"ingest\"}") <= 50.0);
    assert_eq!(
        metric(&metrics, "vz_push_rejections_total{kind=\"body_timeout\"}"),
        1.0
    );
    drop(idle);
    server.stop().await.unwrap();
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn random_unknown_uuids_do_not_grow_memory() {
    let (server, _db) = server(ServerConfig::default()).await;
    let client = reqwest::Client::new();
    let push_many = |n: usize| {
        let client = client.clone();
        let url = format!("http://{}/", server.ingest);
        async move {
            let mut body = String::from("{\"data\":[");
            for i in 0..n {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(&format!(
                    "{{\"uuid\":\"{}\",\"tuples\":[[1,1]]}}",
                    uuid::Uuid::new_v4()
                ));
            }
            body.push_str("]}");
            let response = client.post(url).body(body).send().await.unwrap();
            assert_eq!(response.status(), 404);
        }
    };
    // Warm up pools, caches and the allocator before measuring.
    for _ in 0..20 {
        push_many(500).await;
    }
    let before = rss_kib();
    for _ in 0..100 {
        futures_util::future::join(push_many(1000), push_many(1000)).await;
    }
    let grown = rss_kib().saturating_sub(before);
    let metrics = server.server.metrics_text();
    assert!(metric(&metrics, "vz_unknown_uuids_cached") <= 10_000.0);
    assert!(
        grown < 10 * 1024,
        "200k unknown UUIDs grew RSS by {grown} KiB"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_channel_added_after_a_404_is_accepted_within_two_seconds() {
    let (server, _db) = server(ServerConfig::default()).await;
    let uuid = uuid::Uuid::new_v4().to_string();
    let (status, _) = server.push_tuples(&uuid, "[[1,1]]").await;
    assert_eq!(status, 404);
    server
        .db
        .create_entity(&NewEntity {
            kind: "temperature".into(),
            uuid: Some(uuid.clone()),
            properties: vec![("title".into(), "late".into())],
        })
        .await
        .unwrap();
    let added = Instant::now();
    loop {
        let (status, _) = server.push_tuples(&uuid, "[[1,1]]").await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 404);
        assert!(
            added.elapsed() < Duration::from_secs(2),
            "still 404 after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_subscription_flood_is_bounded_and_leaving_is_cheap() {
    let (server, _db) = server(ServerConfig::default()).await;
    let uuid = server.channel("temperature", None).await;
    let (mut watcher, _) = server.wamp("/ws").await;
    server.subscribe(&mut watcher, &uuid).await;

    let (mut flood, _) = server.wamp("/ws").await;
    for i in 0..100_000 {
        if flood
            .feed(Message::text(format!("[5,\"topic-{i}\"]")))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = flood.flush().await;
    assert_eq!(close_code(&mut flood).await, 1008);
    drop(flood);
    server.wait_sessions(1).await;
    let metrics = server.server.metrics_text();
    assert_eq!(metric(&metrics, "vz_subscriptions"), 1.0);
    assert_eq!(metric(&metrics, "vz_refused_subscriptions_total"), 1.0);

    // A 61 KB topic name is refused too.
    let (mut long, _) = server.wamp("/ws").await;
    long.send(Message::text(format!("[5,\"{}\"]", "x".repeat(61_000))))
        .await
        .unwrap();
    assert_eq!(close_code(&mut long).await, 1008);

    server.push_tuples(&uuid, "[[1,20],[2,21]]").await;
    assert_eq!(
        next_text(&mut watcher).await,
        format!(
            "[8,\"{uuid}\",\"{{\\\"version\\\":\\\"0.3\\\",\\\"data\\\":{{\\\"uuid\\\":\\\"{uuid}\\\",\\\"tuples\\\":[[2,21,1]]}}}}\"]"
        )
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn silent_websocket_clients_are_disconnected_live_ones_kept() {
    let config = ServerConfig {
        ping_interval: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(400),
        ..ServerConfig::default()
    };
    let (server, _db) = server(config).await;
    let uuid = server.channel("temperature", None).await;
    // A live client: tungstenite answers pings while it is read, so it is read all along.
    let (mut live, _) = server.wamp("/ws").await;
    server.subscribe(&mut live, &uuid).await;
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = futures_util::StreamExt::next(&mut live).await {
            if let Message::Text(text) = message {
                let _ = events.send(text.to_string());
            }
        }
    });

    // A dead client: completes the handshake, then never sends a byte (no pong).
    let mut dead = TcpStream::connect(server.broadcast).await.unwrap();
    dead.write_all(
        b"GET /socket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = tokio::time::timeout(common::PATIENCE, dead.read(&mut buf))
            .await
            .expect("the server ends a silent connection")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(seen.starts_with(b"HTTP/1.1 101"));
    // The close frame (0x88) carries 1001 (0x03e9).
    assert!(
        seen.windows(4)
            .any(|w| w[0] == 0x88 && w[2..4] == [0x03, 0xe9]),
        "no close 1001 in {seen:?}"
    );
    assert_eq!(
        metric(
            &server.server.metrics_text(),
            "vz_websocket_idle_disconnects_total"
        ),
        1.0
    );
    // The live client outlived several idle timeouts and still gets updates.
    server.push_tuples(&uuid, "[[1,20],[2,21]]").await;
    let event = tokio::time::timeout(common::PATIENCE, received.recv())
        .await
        .expect("an event")
        .expect("the live client is still connected");
    assert!(event.starts_with("[8,"), "{event}");
    server.stop().await.unwrap();
    reader.await.unwrap();
}

#[tokio::test]
async fn metrics_and_health_are_served_without_channel_uuids() {
    let (server, _db) = server(ServerConfig::default()).await;
    let uuid = server.channel("power", Some("1000")).await;
    let client = reqwest::Client::new();
    let scrape = || async {
        let response = client
            .get(format!("http://{}/metrics", server.broadcast))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    };
    let before = scrape().await;
    server.push_tuples(&uuid, "[[1000,1],[2000,1]]").await;
    server
        .push_tuples("00000000-0000-0000-0000-000000000001", "[[1,1]]")
        .await;
    let after = scrape().await;
    assert_eq!(
        metric(&after, "vz_pushes_total") - metric(&before, "vz_pushes_total"),
        2.0
    );
    assert_eq!(
        metric(&after, "vz_tuples_total{outcome=\"converted\"}"),
        1.0
    );
    assert_eq!(metric(&after, "vz_tuples_total{outcome=\"primed\"}"), 1.0);
    assert_eq!(
        metric(
            &after,
            "vz_channel_rejections_total{kind=\"unknown_channel\"}"
        ),
        1.0
    );
    assert_eq!(metric(&after, "vz_ingest_duration_seconds_count"), 2.0);
    assert_eq!(metric(&after, "vz_database_up"), 1.0);
    assert!(!after.contains(&uuid), "a channel UUID leaked into metrics");
    assert!(!after.contains("00000000-0000"));

    let health = client
        .get(format!("http://{}/health", server.broadcast))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        json(&health.text().await.unwrap()),
        json("{\"status\":\"serving\",\"database\":\"reachable\",\"sessions\":0}")
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn metrics_can_have_a_listener_of_their_own() {
    let db = TestDb::new(TestBackend::Sqlite).await.expect("SQLite");
    let server = std::sync::Arc::new(push_server::PushServer::new(
        ServerConfig::default(),
        db.db().clone(),
    ));
    let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
    let (ingest, broadcast, metrics) = (
        bind().await.unwrap(),
        bind().await.unwrap(),
        bind().await.unwrap(),
    );
    let (broadcast_addr, metrics_addr) = (
        broadcast.local_addr().unwrap(),
        metrics.local_addr().unwrap(),
    );
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn({
        let (server, shutdown) = (server.clone(), shutdown.clone());
        async move {
            let listeners = push_server::Listeners {
                ingest: vec![ingest],
                broadcast: vec![broadcast],
                metrics: vec![metrics],
            };
            server.run(listeners, shutdown).await
        }
    });
    let client = reqwest::Client::new();
    let own = client
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert!(own.text().await.unwrap().contains("vz_pushes_total 0"));
    // Off the broadcast listener once it has its own.
    let moved = client
        .get(format!("http://{broadcast_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 404);
    shutdown.cancel();
    task.await.unwrap().unwrap();
}
