//! The WAMP v1 side as the volkszaehler frontend (AutobahnJS 0.8) sees it.

#[macro_use]
mod common;

use common::{assert_next_is_sentinel, close_code, json, next_text, start};
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message;

// push-protocol.md §1.7, PushServerTest: electric meter, resolution 100.
ws_test!(pushserver_exchange_is_reproduced_exactly, |t| async move {
    let server = start(t.db().clone()).await;
    let uuid = server.channel("electric meter", Some("100")).await;
    let (mut socket, _welcome) = server.wamp("/ws").await;
    server.subscribe(&mut socket, &uuid).await;

    let (status, body) = server
        .push(&format!(
            "{{\"data\":[{{\"uuid\":\"{uuid}\",\"tuples\":[[1,1,1]]}}]}}"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        format!("{{\"version\":\"0.3\",\"data\":[{{\"uuid\":\"{uuid}\",\"tuples\":[]}}]}}")
    );

    let (status, body) = server
        .push(&format!(
            "{{\"data\":[{{\"uuid\":\"{uuid}\",\"tuples\":[[2,2,1]]}}]}}"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        format!(
            "{{\"version\":\"0.3\",\"data\":[{{\"uuid\":\"{uuid}\",\"tuples\":[[2,36000000,1]]}}]}}"
        )
    );

    let frame = next_text(&mut socket).await;
    assert_eq!(
        frame,
        format!(
            "[8,\"{uuid}\",\"{{\\\"version\\\":\\\"0.3\\\",\\\"data\\\":{{\\\"uuid\\\":\\\"{uuid}\\\",\\\"tuples\\\":[[2,36000000,1]]}}}}\"]"
        )
    );
    assert_next_is_sentinel(&server, &mut socket, &uuid, 3).await;
    server.stop().await.unwrap();
});

ws_test!(
    welcome_arrives_before_the_client_sends_anything,
    |t| async move {
        let server = start(t.db().clone()).await;
        for path in ["/", "/ws"] {
            let (_socket, welcome) = server.wamp(path).await;
            let welcome = json(&welcome);
            let items = welcome.as_array().unwrap();
            assert_eq!(items.len(), 4, "{welcome}");
            assert_eq!(items[0], 0);
            let session = items[1].as_str().unwrap();
            assert_eq!(session.len(), 32);
            assert!(session.chars().all(|c| c.is_ascii_hexdigit()));
            assert_eq!(items[2], 1, "protocol version");
            assert!(items[3].as_str().unwrap().starts_with("vz-push-server/"));
        }
        server.stop().await.unwrap();
    }
);

ws_test!(handshakes_follow_the_subprotocol_rules, |t| async move {
    let server = start(t.db().clone()).await;
    let refused = |result: Result<common::Socket, WsError>| match result {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("handshake unexpectedly accepted"),
    };
    // A WAMP route needs `wamp` offered; a plain route refuses any subprotocol.
    assert_eq!(refused(server.connect("/ws", None).await), 426);
    assert_eq!(
        refused(server.connect("/ws", Some("wamp.2.json")).await),
        426
    );
    assert_eq!(refused(server.connect("/socket", Some("wamp")).await), 426);
    assert_eq!(refused(server.connect("/nowhere", Some("wamp")).await), 404);
    assert!(
        server
            .connect("/ws", Some("wamp.2.json, wamp"))
            .await
            .is_ok()
    );
    assert!(server.connect("/socket", None).await.is_ok());
    server.stop().await.unwrap();
});

ws_test!(only_subscribed_topics_are_delivered, |t| async move {
    let server = start(t.db().clone()).await;
    let watched = server.channel("temperature", None).await;
    let other = server.channel("temperature", None).await;
    let (mut socket, _) = server.wamp("/").await;
    server.subscribe(&mut socket, &watched).await;

    for uuid in [&other, &watched] {
        server.push_tuples(uuid, "[[1000,20.5],[2000,21]]").await;
    }
    // The update of `other` was pushed first; the first frame must be the watched one.
    let frame = json(&next_text(&mut socket).await);
    assert_eq!(frame[1], watched.as_str());
    let content = json(frame[2].as_str().unwrap());
    assert_eq!(content["data"]["tuples"], json("[[2000,21,1]]"));
    assert_next_is_sentinel(&server, &mut socket, &watched, 2500).await;

    // After UNSUBSCRIBE nothing more arrives.
    socket
        .send(Message::text(format!("[6,\"{watched}\"]")))
        .await
        .unwrap();
    server
        .wait_for(|| server.server.hub().subscriber_count(&watched) == 0)
        .await;
    server.push_tuples(&watched, "[[3000,22]]").await;
    // `other` is primed; subscribed now, its next reading must be the very next frame.
    server.subscribe(&mut socket, &other).await;
    assert_next_is_sentinel(&server, &mut socket, &other, 3500).await;
    server.stop().await.unwrap();
});

ws_test!(a_closed_connection_leaves_every_topic, |t| async move {
    let server = start(t.db().clone()).await;
    let a = server.channel("voltage", None).await;
    let b = server.channel("voltage", None).await;
    let (mut socket, _) = server.wamp("/ws").await;
    server.subscribe(&mut socket, &a).await;
    server.subscribe(&mut socket, &b).await;
    assert_eq!(server.server.hub().session_count(), 1);
    socket.close(None).await.unwrap();
    drop(socket);
    server.wait_sessions(0).await;
    assert_eq!(server.server.hub().subscriber_count(&a), 0);
    assert_eq!(server.server.hub().subscriber_count(&b), 0);
    server.stop().await.unwrap();
});

ws_test!(
    calls_get_callerror_publish_and_garbage_close,
    |t| async move {
        let server = start(t.db().clone()).await;
        let (mut socket, _) = server.wamp("/ws").await;
        socket
            .send(Message::text("[1,\"vz\",\"http://volkszaehler.org/\"]"))
            .await
            .unwrap();
        socket
            .send(Message::text("[2,\"call-1\",\"vz:data\",42]"))
            .await
            .unwrap();
        let answer = json(&next_text(&mut socket).await);
        assert_eq!(answer[0], 4);
        assert_eq!(answer[1], "call-1");
        // CALL keeps the connection usable.
        let uuid = server.channel("temperature", None).await;
        server.subscribe(&mut socket, &uuid).await;
        socket
            .send(Message::text(format!("[7,\"{uuid}\",\"hello\"]")))
            .await
            .unwrap();
        assert_eq!(close_code(&mut socket).await, 1008);

        let (mut socket, _) = server.wamp("/ws").await;
        socket
            .send(Message::text("{\"not\":\"a list\"}"))
            .await
            .unwrap();
        assert_eq!(close_code(&mut socket).await, 1007);
        server.stop().await.unwrap();
    }
);

ws_test!(shutdown_closes_clients_with_going_away, |t| async move {
    let server = start(t.db().clone()).await;
    let (mut wamp, _) = server.wamp("/ws").await;
    let mut plain = server.connect("/socket", None).await.unwrap();
    server.wait_sessions(2).await;
    let stopping = tokio::spawn(server.stop());
    assert_eq!(close_code(&mut wamp).await, 1001);
    assert_eq!(close_code(&mut plain).await, 1001);
    stopping.await.unwrap().unwrap();
});
