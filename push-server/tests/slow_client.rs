//! Decision 9: a subscriber that stops reading is disconnected; the others keep every frame.

#[macro_use]
mod common;

use std::time::Duration;

use common::{json, next_text, start_with};
use push_server::ServerConfig;
use push_server::hub::HubLimits;

ws_test!(
    a_stalled_subscriber_is_evicted_and_the_fast_one_gets_everything,
    |t| async move {
        let config = ServerConfig {
            hub: HubLimits {
                queue_capacity: 8,
                ..HubLimits::default()
            },
            write_timeout: Duration::from_secs(30),
            ..ServerConfig::default()
        };
        let server = start_with(t.db().clone(), config).await;
        let uuid = server.channel("temperature", None).await;
        let (mut stalled, _) = server.wamp("/ws").await;
        let (mut fast, _) = server.wamp("/ws").await;
        server.subscribe(&mut stalled, &uuid).await;
        server.subscribe(&mut fast, &uuid).await;

        // Big frames fill the stalled client's socket buffers quickly; then its queue fills.
        const PUSHES: i64 = 1000;
        const TUPLES: i64 = 500;
        let reader = tokio::spawn(async move {
            let mut last = 0;
            for _ in 0..PUSHES {
                let frame = json(&next_text(&mut fast).await);
                let content = json(frame[2].as_str().unwrap());
                let tuples = content["data"]["tuples"].as_array().unwrap().clone();
                assert_eq!(tuples.len(), TUPLES as usize);
                let first = tuples[0][0].as_i64().unwrap();
                assert_eq!(first, last + 1, "frames arrive complete and in order");
                last = tuples[tuples.len() - 1][0].as_i64().unwrap();
            }
            fast
        });
        server.push_tuples(&uuid, "[[0,1]]").await;
        for push in 0..PUSHES {
            let tuples: Vec<String> = (1..=TUPLES)
                .map(|i| format!("[{},{}.5]", push * TUPLES + i, i))
                .collect();
            let (status, _) = server
                .push_tuples(&uuid, &format!("[{}]", tuples.join(",")))
                .await;
            assert_eq!(status, 200);
        }
        let _fast = tokio::time::timeout(Duration::from_secs(30), reader)
            .await
            .expect("fast reader finished")
            .unwrap();
        assert_eq!(server.server.hub().stats().slow_disconnects.get(), 1);
        assert_eq!(server.server.hub().subscriber_count(&uuid), 1);
        drop(stalled);
        server.stop().await.unwrap();
    }
);
