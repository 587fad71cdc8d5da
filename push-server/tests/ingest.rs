//! The vzlogger side: responses, per-channel errors, malformed bodies, limits, metadata refresh.

mod common;

use common::{json, next_text, start, start_with};
use middleware::db_test;
use push_server::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

db_test!(
    known_channel_is_converted_while_an_unknown_one_is_named,
    |t| async move {
        let server = start(t.db().clone()).await;
        let known = server.channel("power", Some("1000")).await;
        let unknown = "00000000-1111-2222-3333-444444444444";
        let (mut socket, _) = server.wamp("/ws").await;
        server.subscribe(&mut socket, &known).await;
        server.push_tuples(&known, "[[1700000000000,1]]").await;

        let body = format!(
            "{{\"data\":[{{\"uuid\":\"{unknown}\",\"tuples\":[[1700000001000,5]]}},{{\"uuid\":\"{known}\",\"tuples\":[[1700000001000,1]]}}]}}"
        );
        let (status, response) = server.push(&body).await;
        assert_eq!(status, 404, "{response}");
        let response = json(&response);
        assert_eq!(response["version"], "0.3");
        assert_eq!(
            response["data"],
            json(&format!(
                "[{{\"uuid\":\"{known}\",\"tuples\":[[1700000001000,3600,1]]}}]"
            ))
        );
        assert_eq!(response["exception"]["type"], "UnknownChannel");
        assert_eq!(
            response["exception"]["message"],
            format!("No entity with UUID '{unknown}'")
        );
        let rejected = &response["exception"]["channels"][0];
        assert_eq!(rejected["uuid"], unknown);
        assert_eq!(rejected["index"], 0);

        let event = json(&next_text(&mut socket).await);
        assert_eq!(event[1], known.as_str());
        assert_eq!(
            json(event[2].as_str().unwrap())["data"]["tuples"],
            json("[[1700000001000,3600,1]]")
        );
        server.stop().await.unwrap();
    }
);

db_test!(
    groups_and_invalid_uuids_are_rejected_per_channel,
    |t| async move {
        let server = start(t.db().clone()).await;
        let group = server.channel("group", None).await;
        let sensor = server.channel("temperature", None).await;
        let body = format!(
            "{{\"data\":[{{\"uuid\":\"{group}\",\"tuples\":[[1,1]]}},{{\"uuid\":\"not-a-uuid\",\"tuples\":[[1,1]]}},{{\"uuid\":\"{sensor}\",\"tuples\":[[1,1],[2,2]]}}]}}"
        );
        let (status, response) = server.push(&body).await;
        assert_eq!(status, 400);
        let response = json(&response);
        assert_eq!(response["data"][0]["tuples"], json("[[2,2,1]]"));
        let channels = response["exception"]["channels"].as_array().unwrap();
        assert_eq!(channels.len(), 2);
        assert_eq!(channels[0]["type"], "GroupNotSupported");
        assert_eq!(channels[1]["type"], "InvalidUuid");
        assert_eq!(channels[1]["message"], "Invalid UUID: 'not-a-uuid'");
        server.stop().await.unwrap();
    }
);

db_test!(
    malformed_bodies_get_a_4xx_json_answer_and_the_server_keeps_serving,
    |t| async move {
        let config = ServerConfig {
            post_limit: 4096,
            ..ServerConfig::default()
        };
        let server = start_with(t.db().clone(), config).await;
        let uuid = server.channel("temperature", None).await;
        let cases: Vec<(String, u16, &str)> = vec![
            ("{\"data\":".into(), 400, "InvalidJson"),
            ("".into(), 400, "InvalidJson"),
            ("[]".into(), 400, "InvalidPayload"),
            ("{}".into(), 400, "InvalidPayload"),
            ("{\"data\":5}".into(), 400, "InvalidPayload"),
            (
                "{\"data\":[{\"tuples\":[[1,2]]}]}".into(),
                400,
                "InvalidChannel",
            ),
            (
                format!("{{\"data\":[{{\"uuid\":\"{uuid}\"}}]}}"),
                400,
                "InvalidChannel",
            ),
            (
                format!("{{\"data\":[{{\"uuid\":\"{uuid}\",\"tuples\":[]}}]}}"),
                400,
                "InvalidChannel",
            ),
            (
                format!("{{\"data\":[{{\"uuid\":\"{uuid}\",\"tuples\":[[1]]}}]}}"),
                400,
                "InvalidChannel",
            ),
            (
                format!("{{\"data\":[{{\"uuid\":\"{uuid}\",\"tuples\":[[1,\"abc\"]]}}]}}"),
                400,
                "InvalidChannel",
            ),
            (
                format!("{{\"data\":[{{\"uuid\":\"{uuid}\",\"tuples\":[[\"x\",1]]}}]}}"),
                400,
                "InvalidChannel",
            ),
            (
                format!("{{\"data\":[{{\"uuid\":\"{uuid}\",\"tuples\":[[1,null]]}}]}}"),
                400,
                "InvalidChannel",
            ),
            (
                format!(
                    "{{\"data\":[{{\"uuid\":\"{uuid}\",\"tuples\":[[1,2]]}}],\"pad\":\"{}\"}}",
                    "x".repeat(5000)
                ),
                413,
                "PayloadTooLarge",
            ),
        ];
        for (body, status, kind) in &cases {
            let (got, response) = server.push(body).await;
            assert_eq!(got, *status, "{body:.80} → {response}");
            let response = json(&response);
            assert_eq!(response["exception"]["type"], *kind, "{body:.80}");
            assert!(
                !response["exception"]["message"]
                    .as_str()
                    .unwrap()
                    .is_empty()
            );
        }
        let limit = json(&server.push(&cases.last().unwrap().0).await.1);
        assert_eq!(
            limit["exception"]["message"],
            "Request body exceeds the limit of 4096 bytes"
        );

        // Rejected tuples changed nothing: the channel's first tuple still only primes.
        let (status, body) = server.push_tuples(&uuid, "[[1000,20]]").await;
        assert_eq!(
            (status, json(&body)["data"][0]["tuples"].clone()),
            (200, json("[]"))
        );
        let (status, body) = server.push_tuples(&uuid, "[[2000,\"21.5\"]]").await;
        assert_eq!(
            (status, json(&body)["data"][0]["tuples"].clone()),
            (200, json("[[2000,21.5,1]]"))
        );
        server.stop().await.unwrap();
    }
);

db_test!(
    empty_data_and_vzlogger_format_are_accepted_on_any_path,
    |t| async move {
        let server = start(t.db().clone()).await;
        let (status, body) = server.push("{\"data\":[]}").await;
        assert_eq!(
            (status, body.as_str()),
            (200, "{\"version\":\"0.3\",\"data\":[]}")
        );
        let uuid = server.channel("electric meter", Some("1000")).await;
        // vzlogger: json-c spacing, 2-element tuples, %.17g doubles, path of the schema docs.
        let push = |ts: u64, value: &str| {
            format!(
                "{{ \"data\": [ {{ \"uuid\": \"{uuid}\", \"tuples\": [ [ {ts}, {value} ] ] }} ] }}"
            )
        };
        server
            .push_to(
                "/middleware.php/push/data.json",
                &push(1461528098000, "12345000.0"),
            )
            .await;
        let (status, body) = server
            .push_to("/anything", &push(1461528100000, "12345001.0"))
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            json(&body)["data"][0]["tuples"],
            json("[[1461528100000,1800,1]]")
        );
        server.stop().await.unwrap();
    }
);

db_test!(time_only_moves_forward, |t| async move {
    let server = start(t.db().clone()).await;
    let uuid = server.channel("power", Some("1000")).await;
    let (_, body) = server
        .push_tuples(&uuid, "[[10,1],[20,1],[5,1],[15,1],[20,1],[30,1]]")
        .await;
    // PHP answered [[20,360000,1],[15,-720000,1]] and then divided by zero.
    assert_eq!(
        json(&body)["data"][0]["tuples"],
        json("[[20,360000,1],[30,360000,1]]")
    );
    assert_eq!(server.server.ingest_stats().out_of_order.get(), 3);
    server.stop().await.unwrap();
});

db_test!(
    an_edited_resolution_applies_without_restart,
    |t| async move {
        let server = start(t.db().clone()).await;
        let uuid = server.channel("electric meter", Some("100")).await;
        server.push_tuples(&uuid, "[[1,1]]").await;
        let (_, body) = server.push_tuples(&uuid, "[[2,2]]").await;
        assert_eq!(json(&body)["data"][0]["tuples"], json("[[2,36000000,1]]"));
        server
            .db
            .set_property(&uuid, "resolution", "200")
            .await
            .unwrap();
        // What the periodic background refresh (and SIGHUP) runs; pushes never wait for it.
        server.server.channels().refresh_all().await;
        // The state survives the refresh: Δ from the last converted tuple, new resolution.
        let (_, body) = server.push_tuples(&uuid, "[[3,3]]").await;
        assert_eq!(json(&body)["data"][0]["tuples"], json("[[3,18000000,1]]"));
        server.stop().await.unwrap();
    }
);

db_test!(expect_continue_and_keep_alive_work, |t| async move {
    let server = start(t.db().clone()).await;
    let uuid = server.channel("temperature", None).await;
    let body = format!("{{\"data\":[{{\"uuid\":\"{uuid}\",\"tuples\":[[1,1],[2,2]]}}]}}");
    let mut stream = TcpStream::connect(server.ingest).await.unwrap();
    for round in 0..2 {
        let head = format!(
            "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 25];
        tokio::time::timeout(common::PATIENCE, stream.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf, b"HTTP/1.1 100 Continue\r\n\r\n", "round {round}");
        stream.write_all(body.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        let mut chunk = [0u8; 1024];
        while !String::from_utf8_lossy(&response).contains("\"tuples\"") {
            let n = tokio::time::timeout(common::PATIENCE, stream.read(&mut chunk))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "connection closed in round {round}");
            response.extend_from_slice(&chunk[..n]);
        }
        let response = String::from_utf8(response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(
            response
                .to_lowercase()
                .contains("content-type: application/json")
        );
        // Same connection, second round: the channel is primed, both tuples convert.
        let expected = if round == 0 { "[[2,2,1]]" } else { "[]" };
        assert!(
            response.ends_with(&format!("\"tuples\":{expected}}}]}}")),
            "{response}"
        );
    }
    server.stop().await.unwrap();
});
