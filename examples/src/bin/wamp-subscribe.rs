//! A WAMP v1 subscriber like the volkszaehler frontend: connects with subprotocol `wamp`, waits
//! for WELCOME, subscribes to channel UUIDs and prints every update.
//!
//! `cargo run -p examples --bin wamp-subscribe -- ws://localhost:8082/ws UUID...`

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Subscribe to channels over WAMP v1 and print their live updates.
#[derive(Debug, Parser)]
struct Args {
    /// Broadcast URL, e.g. ws://localhost:8082/ws
    url: String,
    /// Channel UUIDs to subscribe to.
    #[arg(required = true)]
    uuids: Vec<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut request = args.url.as_str().into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("wamp"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .with_context(|| format!("connecting to {}", args.url))?;

    let welcome = socket
        .next()
        .await
        .context("connection closed before WELCOME")??;
    let welcome: Value = serde_json::from_str(welcome.to_text()?)?;
    if welcome.get(0).and_then(Value::as_i64) != Some(0) {
        bail!("expected WELCOME, got {welcome}");
    }
    println!("connected, session {}, server {}", welcome[1], welcome[3]);
    for uuid in &args.uuids {
        socket
            .send(Message::text(serde_json::json!([5, uuid]).to_string()))
            .await?;
        println!("subscribed {uuid}");
    }

    while let Some(message) = socket.next().await {
        let text = match message? {
            Message::Text(text) => text,
            Message::Close(frame) => {
                println!("closed by server: {frame:?}");
                break;
            }
            _ => continue,
        };
        let event: Value = serde_json::from_str(&text)?;
        // EVENT = [8, topic, "<update as a JSON string>"]
        let (Some(8), Some(topic), Some(payload)) = (
            event.get(0).and_then(Value::as_i64),
            event.get(1).and_then(Value::as_str),
            event.get(2).and_then(Value::as_str),
        ) else {
            println!("{text}");
            continue;
        };
        let update: Value = serde_json::from_str(payload)?;
        for tuple in update["data"]["tuples"].as_array().into_iter().flatten() {
            println!(
                "{topic} ts={} value={} count={}",
                tuple[0], tuple[1], tuple[2]
            );
        }
    }
    Ok(())
}
