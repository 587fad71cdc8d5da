//! Plain WebSocket routes as node-red's websocket-in node uses them.

#[macro_use]
mod common;

use common::{assert_next_is_sentinel, close_code, json, next_text, start};
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

ws_test!(
    plain_route_delivers_every_channel_single_encoded,
    |t| async move {
        let server = start(t.db().clone()).await;
        let a = server.channel("temperature", None).await;
        let b = server.channel("powersensor", Some("10")).await;
        let mut socket = server.connect("/socket", None).await.unwrap();
        server.wait_sessions(1).await;

        server.push_tuples(&a, "[[1000,20],[2000,21.5]]").await;
        server.push_tuples(&b, "[[1000,4000],[2000,4510]]").await;
        assert_eq!(
            next_text(&mut socket).await,
            format!(
                "{{\"version\":\"0.3\",\"data\":{{\"uuid\":\"{a}\",\"tuples\":[[2000,21.5,1]]}}}}"
            )
        );
        assert_eq!(
            next_text(&mut socket).await,
            format!(
                "{{\"version\":\"0.3\",\"data\":{{\"uuid\":\"{b}\",\"tuples\":[[2000,451,1]]}}}}"
            )
        );
        server.stop().await.unwrap();
    }
);

ws_test!(uuid_query_restricts_a_plain_client, |t| async move {
    let server = start(t.db().clone()).await;
    let a = server.channel("temperature", None).await;
    let b = server.channel("temperature", None).await;
    let c = server.channel("temperature", None).await;
    let mut only_a = server
        .connect(&format!("/socket?uuid={a}"), None)
        .await
        .unwrap();
    let mut a_and_c = server
        .connect(&format!("/socket?uuid={a}&uuid={c}"), None)
        .await
        .unwrap();
    server.wait_sessions(2).await;

    for uuid in [&b, &c, &a] {
        server.push_tuples(uuid, "[[1000,1],[2000,2]]").await;
    }
    let uuid_of = |text: String| json(&text)["data"]["uuid"].as_str().unwrap().to_owned();
    assert_eq!(uuid_of(next_text(&mut only_a).await), a);
    assert_eq!(uuid_of(next_text(&mut a_and_c).await), c);
    assert_eq!(uuid_of(next_text(&mut a_and_c).await), a);
    // Nothing of b (or c) is queued behind: the next frame of each is the sentinel of a.
    assert_next_is_sentinel(&server, &mut only_a, &a, 3000).await;
    assert_eq!(
        json(&next_text(&mut a_and_c).await)["data"]["tuples"],
        json("[[3000,3000,1]]")
    );
    server.stop().await.unwrap();
});

ws_test!(a_plain_client_that_talks_is_closed, |t| async move {
    let server = start(t.db().clone()).await;
    let mut socket = server.connect("/socket", None).await.unwrap();
    socket.send(Message::text("hello")).await.unwrap();
    assert_eq!(close_code(&mut socket).await, 1000);
    server.wait_sessions(0).await;
    server.stop().await.unwrap();
});
