//! The two systems under test and how the same workload is expressed for each:
//! push-server gets vzlogger pushes and speaks WAMP v1 or plain WebSocket; nchan gets the frame
//! push-server would send as an HTTP-published message, so both deliver frames of equal size.

use push_core::number::write_f64;

use crate::http::Endpoint;

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The Rust push-server.
    PushServer,
    /// NGINX with the nchan module.
    Nchan,
}

impl Kind {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::PushServer => "push-server",
            Kind::Nchan => "nchan",
        }
    }
}

/// The frame format subscribers receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// WAMP v1 EVENT frames `[8,topic,"<content>"]` (the volkszaehler frontend).
    Wamp,
    /// The content `{"version":"0.3","data":{…}}` as is (node-red).
    Plain,
}

/// A server to drive.
#[derive(Debug, Clone)]
pub struct Target {
    /// Which server.
    pub kind: Kind,
    /// The frame format.
    pub protocol: Protocol,
    /// push-server: the ingest URL; nchan: the publisher location prefix (`…/pub`).
    pub publish: Endpoint,
    /// push-server: the WebSocket route; nchan: the subscriber location prefix (`…/sub`).
    pub subscribe: Endpoint,
}

impl Target {
    /// push-server swallows the first tuple of a channel; nchan has nothing to prime.
    pub fn needs_priming(&self) -> bool {
        self.kind == Kind::PushServer
    }

    /// The request path a subscriber of `channel` connects to, and the subprotocol it offers.
    pub fn subscribe_path(&self, channel: &str) -> (String, Option<&'static str>) {
        let base = self.subscribe.path.trim_end_matches('/');
        match (self.kind, self.protocol) {
            (Kind::PushServer, Protocol::Wamp) => (self.subscribe.path.clone(), Some("wamp")),
            (Kind::PushServer, Protocol::Plain) => (format!("{base}?uuid={channel}"), None),
            (Kind::Nchan, _) => (format!("{base}/{channel}"), None),
        }
    }

    /// Whether subscribers must read WELCOME and send SUBSCRIBE.
    pub fn is_wamp_session(&self) -> bool {
        self.kind == Kind::PushServer && self.protocol == Protocol::Wamp
    }

    /// The path a reading of `channel` is POSTed to.
    pub fn publish_path(&self, channel: &str) -> String {
        match self.kind {
            Kind::PushServer => self.publish.path.clone(),
            Kind::Nchan => format!("{}/{channel}", self.publish.path.trim_end_matches('/')),
        }
    }

    /// The POST body for one reading `[ts_ms, value]` of `channel`.
    pub fn publish_body(&self, channel: &str, ts_ms: u64, value: u64) -> String {
        match self.kind {
            // vzlogger's json-c spacing; the value is integral, so %.17g prints it plainly.
            Kind::PushServer => format!(
                "{{ \"data\": [ {{ \"uuid\": \"{channel}\", \"tuples\": [ [ {ts_ms}, {value} ] ] }} ] }}"
            ),
            Kind::Nchan => frame(self.protocol, channel, ts_ms, value),
        }
    }
}

/// The frame push-server broadcasts for a temperature (resolution 1) reading: the sensor value
/// passes unchanged and is formatted as PHP does.
pub fn frame(protocol: Protocol, channel: &str, ts_ms: u64, value: u64) -> String {
    let mut content = String::with_capacity(128);
    content.push_str("{\"version\":\"0.3\",\"data\":{\"uuid\":\"");
    content.push_str(channel);
    content.push_str("\",\"tuples\":[[");
    write_f64(&mut content, ts_ms as f64);
    content.push(',');
    write_f64(&mut content, value as f64);
    content.push_str(",1]]}}");
    match protocol {
        Protocol::Plain => content,
        Protocol::Wamp => format!(
            "[8,\"{channel}\",\"{}\"]",
            content.replace('\\', "\\\\").replace('"', "\\\"")
        ),
    }
}

/// Reads `[[ts, value` from a frame of either protocol (the first `[[` is the tuple list; the
/// numbers are not escaped in a WAMP event).
pub fn parse_frame(text: &str) -> Option<(u64, u64)> {
    let start = text.find("[[")? + 2;
    let mut numbers = text[start..].split([',', ']']);
    let ts = numbers.next()?.trim().parse::<f64>().ok()?;
    let value = numbers.next()?.trim().parse::<f64>().ok()?;
    Some((ts as u64, value as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "0a2b7c10-1111-11eb-a092-174646e1882d";

    #[test]
    fn frames_parse_back() {
        for protocol in [Protocol::Wamp, Protocol::Plain] {
            let text = frame(protocol, UUID, 1_700_000_000_123, 98_765_432);
            assert_eq!(
                parse_frame(&text),
                Some((1_700_000_000_123, 98_765_432)),
                "{text}"
            );
        }
        assert_eq!(
            frame(Protocol::Wamp, "U", 2, 3),
            "[8,\"U\",\"{\\\"version\\\":\\\"0.3\\\",\\\"data\\\":{\\\"uuid\\\":\\\"U\\\",\\\"tuples\\\":[[2,3,1]]}}\"]"
        );
        assert_eq!(parse_frame("[0,\"session\",1,\"x\"]"), None);
    }
}
