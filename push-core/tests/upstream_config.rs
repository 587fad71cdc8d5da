//! volkszaehler's own config template must be read as shipped.

use push_core::config::{Config, ListenSpec, MAX_POST_LIMIT, normalise_route};

const DIST: &str = include_str!("fixtures/config.dist.yaml");

#[test]
fn the_shipped_template_is_accepted_as_is() {
    let config = Config::from_yaml(DIST).expect("the dist file parses");
    assert_eq!(config.push.server, Some(ListenSpec::Port(5582)));
    assert_eq!(config.push.broadcast, Some(ListenSpec::Port(8082)));
    assert_eq!(config.wamp_routes().unwrap().unwrap(), ["/", "/ws"]);
    assert_eq!(config.websocket_routes().unwrap().unwrap(), ["/socket"]);
    // `postlimit: false` is PHP's "no limit": the hard safety cap applies.
    assert_eq!(config.post_limit().unwrap(), MAX_POST_LIMIT);
    assert_eq!(config.time_zone(), Some("Europe/Berlin"));
    let db = config.db.expect("db section");
    assert_eq!(
        db.url().unwrap(),
        "mysql://vz:demo@127.0.0.1:3306/volkszaehler"
    );
    assert_eq!(
        db.with_admin().url().unwrap(),
        "mysql://vz_admin:admin_demo@127.0.0.1:3306/volkszaehler"
    );
}

#[test]
fn postlimit_switches_and_sizes() {
    let limit = |yaml: &str| Config::from_yaml(yaml).unwrap().post_limit().unwrap();
    assert_eq!(limit("network: {postlimit: true}"), 1024 * 1024);
    assert_eq!(limit("network: {postlimit: 4096}"), 4096);
    assert_eq!(limit("network: {postlimit: 10G}"), MAX_POST_LIMIT);
    assert_eq!(limit("security: {maxbodysize: 2048}"), 2048);
    assert_eq!(
        limit("network: {postlimit: 1024}\nsecurity: {maxbodysize: 2048}"),
        1024
    );
}

#[test]
fn routes_are_normalised_or_refused_with_a_reason() {
    let config = Config::from_yaml("push: {wamp: [ws, ' /live '], websocket: [socket]}").unwrap();
    assert_eq!(config.wamp_routes().unwrap().unwrap(), ["/ws", "/live"]);
    assert_eq!(config.websocket_routes().unwrap().unwrap(), ["/socket"]);

    let err = Config::from_yaml("push: {wamp: ['/{id}']}")
        .unwrap()
        .wamp_routes()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid route '/{id}' in push.wamp: a route is an exact path without { } or *"
    );
    for (route, reason) in [
        ("", "a route must not be empty"),
        (
            "/a b",
            "a route must not contain spaces or control characters",
        ),
        ("/ws?x=1", "a route is a path without query or fragment"),
        ("ws://host/ws", "a route is a path such as /ws, not a URL"),
        ("/:topic", "a route segment must not start with ':'"),
        ("/*rest", "a route is an exact path without { } or *"),
    ] {
        assert_eq!(normalise_route(route), Err(reason), "{route:?}");
    }
}
