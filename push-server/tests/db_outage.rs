//! When the database goes away: unknown channels get 503, known channels keep converting, and
//! the server recovers by itself when the database returns. Needs a networked database, so the
//! SQLite variant checks only that lookups work.

mod common;

use std::time::Duration;

use common::proxy::{Proxy, target_of};
use common::{json, start_with};
use middleware::db_test;
use middleware::{Backend, Db};
use push_server::ServerConfig;
use push_server::channels::ChannelLimits;

db_test!(known_channels_survive_a_database_outage, |t| async move {
    let config = ServerConfig {
        metadata_refresh: Duration::from_millis(50),
        channels: ChannelLimits {
            lookup_timeout: Duration::from_secs(3),
            ..ChannelLimits::default()
        },
        ..ServerConfig::default()
    };
    let proxy = match t.backend() {
        Backend::Sqlite => None,
        _ => Some(Proxy::start(target_of(t.url())).await),
    };
    let db = match &proxy {
        Some(proxy) => Db::connect(&proxy.url_via(t.url())).await.unwrap(),
        None => t.db().clone(),
    };
    let server = start_with(db, config).await;
    let known = server.channel("power", Some("1000")).await;
    let later = server.channel("temperature", None).await;
    server.push_tuples(&known, "[[1000,1]]").await;
    let Some(proxy) = proxy else {
        let (status, _) = server.push_tuples(&later, "[[1000,1]]").await;
        assert_eq!(status, 200);
        return server.stop().await.unwrap();
    };

    proxy.cut();
    let (status, body) = server.push_tuples(&later, "[[1000,20]]").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(json(&body)["exception"]["type"], "DatabaseUnavailable");
    // The cause is the operator's business (logged); the pusher learns no database text.
    assert_eq!(
        json(&body)["exception"]["message"],
        format!("Database unavailable, cannot look up channel '{later}'").as_str()
    );
    // Known channels never wait for the database, even across background refreshes.
    for ts in [1500, 1600, 1700] {
        let (status, _) = server.push_tuples(&known, &format!("[[{ts},1]]")).await;
        assert_eq!(status, 200);
    }
    assert!(!server.server.channels().database_up());
    let (status, body) = server.push_tuples(&known, "[[2000,1]]").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["data"][0]["tuples"], json("[[2000,12000,1]]"));

    proxy.restore();
    let (status, body) = server.push_tuples(&later, "[[1000,20],[2000,21]]").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["data"][0]["tuples"], json("[[2000,21,1]]"));
    server.stop().await.unwrap();
});
