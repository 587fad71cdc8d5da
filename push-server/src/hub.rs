//! The fan-out hub: who listens to what, and delivery that never waits for a client.
//!
//! Each WebSocket session registers once and gets the receiving end of a bounded queue; the hub
//! keeps the only sender. Publishing encodes a frame at most once per protocol and `try_send`s it
//! to every interested session. A full queue means the client cannot keep up: it is evicted
//! (its sender dropped, which its session task sees as the end of the queue) and counted, so one
//! slow browser never delays vzlogger's HTTP response or the other clients (decision 9).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;

use crate::protocol;

/// Identifies one registered session.
pub type SessionId = u64;

/// A pre-encoded text frame; clones share the bytes.
pub type Frame = Utf8Bytes;

/// What a session asked to receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interest {
    /// WAMP: only the topics it subscribes to.
    Topics,
    /// Plain WebSocket without a filter: every channel.
    Everything,
    /// Plain WebSocket with `?uuid=…`: only these channels.
    Channels(Vec<String>),
}

struct Subscriber {
    /// The only sender of the session's queue; dropping it tells the session to end.
    tx: mpsc::Sender<Frame>,
}

#[derive(Default)]
struct Registry {
    sessions: HashMap<SessionId, Subscriber>,
    /// Topic → WAMP sessions subscribed to it. Empty sets are removed, so an unwatched channel
    /// costs no encoding.
    wamp_topics: HashMap<String, HashSet<SessionId>>,
    /// Topic → plain sessions that asked for this channel only.
    plain_topics: HashMap<String, HashSet<SessionId>>,
    /// Plain sessions that receive every channel.
    plain_all: HashSet<SessionId>,
}

impl Registry {
    fn remove(&mut self, id: SessionId) -> bool {
        let Some(_subscriber) = self.sessions.remove(&id) else {
            return false;
        };
        self.plain_all.remove(&id);
        for topics in [&mut self.wamp_topics, &mut self.plain_topics] {
            topics.retain(|_, ids| {
                ids.remove(&id);
                !ids.is_empty()
            });
        }
        true
    }
}

/// Counters for operators and tests.
#[derive(Debug, Default)]
pub struct HubStats {
    /// Frames queued for delivery.
    pub delivered: AtomicU64,
    /// Sessions disconnected because their queue was full.
    pub slow_disconnects: AtomicU64,
}

/// The topic registry and fan-out.
pub struct Hub {
    registry: Mutex<Registry>,
    next_id: AtomicU64,
    queue_capacity: usize,
    stats: HubStats,
}

/// How many sessions one [`Hub::publish`] reached.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Sessions the frame was queued for.
    pub queued: usize,
    /// Sessions evicted during this publish because their queue was full.
    pub evicted: usize,
}

impl Hub {
    /// A hub whose sessions may fall `queue_capacity` frames behind before being evicted.
    pub fn new(queue_capacity: usize) -> Hub {
        Hub {
            registry: Mutex::default(),
            next_id: AtomicU64::new(1),
            queue_capacity: queue_capacity.max(1),
            stats: HubStats::default(),
        }
    }

    /// Delivery counters.
    pub fn stats(&self) -> &HubStats {
        &self.stats
    }

    /// Registers a session; the receiver ends when the session is evicted or unregistered.
    pub fn register(&self, interest: Interest) -> (SessionId, mpsc::Receiver<Frame>) {
        let (tx, rx) = mpsc::channel(self.queue_capacity);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut registry = self.lock();
        match interest {
            Interest::Topics => {}
            Interest::Everything => {
                registry.plain_all.insert(id);
            }
            Interest::Channels(channels) => {
                for channel in channels {
                    registry.plain_topics.entry(channel).or_default().insert(id);
                }
            }
        }
        registry.sessions.insert(id, Subscriber { tx });
        (id, rx)
    }

    /// Removes a session from every topic. Returns false if it was already gone (evicted).
    pub fn unregister(&self, id: SessionId) -> bool {
        self.lock().remove(id)
    }

    /// Subscribes a WAMP session to a topic; a repeated subscribe is a no-op.
    pub fn subscribe(&self, id: SessionId, topic: &str) {
        let mut registry = self.lock();
        if registry.sessions.contains_key(&id) {
            registry
                .wamp_topics
                .entry(topic.to_owned())
                .or_default()
                .insert(id);
        }
    }

    /// Unsubscribes a WAMP session; unknown topics are ignored.
    pub fn unsubscribe(&self, id: SessionId, topic: &str) {
        let mut registry = self.lock();
        if let Some(ids) = registry.wamp_topics.get_mut(topic) {
            ids.remove(&id);
            if ids.is_empty() {
                registry.wamp_topics.remove(topic);
            }
        }
    }

    /// Number of registered sessions.
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Number of WAMP sessions subscribed to `topic`.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.lock().wamp_topics.get(topic).map_or(0, HashSet::len)
    }

    /// Sends one channel update (`content` = `{"version":"0.3","data":{…}}`) to every WAMP
    /// subscriber of `topic` and every plain session that wants it. Never waits.
    pub fn publish(&self, topic: &str, content: &str) -> Delivery {
        let mut registry = self.lock();
        let registry = &mut *registry;
        let mut delivery = Delivery::default();
        let mut evict = Vec::new();

        if let Some(ids) = registry.wamp_topics.get(topic) {
            let frame = Frame::from(protocol::wamp_v1::event(topic, content));
            for id in ids {
                send(&registry.sessions, *id, &frame, &mut delivery, &mut evict);
            }
        }
        let plain_filtered = registry.plain_topics.get(topic);
        if !registry.plain_all.is_empty() || plain_filtered.is_some() {
            let frame = Frame::from(content);
            for id in registry
                .plain_all
                .iter()
                .chain(plain_filtered.into_iter().flatten())
            {
                send(&registry.sessions, *id, &frame, &mut delivery, &mut evict);
            }
        }
        for (id, slow) in evict {
            if registry.remove(id) && slow {
                delivery.evicted += 1;
            }
        }
        self.stats
            .delivered
            .fetch_add(delivery.queued as u64, Ordering::Relaxed);
        self.stats
            .slow_disconnects
            .fetch_add(delivery.evicted as u64, Ordering::Relaxed);
        delivery
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that matters
        // more than losing all live clients, so recover the guard instead of propagating.
        self.registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn send(
    sessions: &HashMap<SessionId, Subscriber>,
    id: SessionId,
    frame: &Frame,
    delivery: &mut Delivery,
    evict: &mut Vec<(SessionId, bool)>,
) {
    let Some(subscriber) = sessions.get(&id) else {
        return;
    };
    match subscriber.tx.try_send(frame.clone()) {
        Ok(()) => delivery.queued += 1,
        Err(mpsc::error::TrySendError::Full(_)) => evict.push((id, true)),
        Err(mpsc::error::TrySendError::Closed(_)) => evict.push((id, false)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTENT: &str =
        "{\"version\":\"0.3\",\"data\":{\"uuid\":\"U\",\"tuples\":[[2,36000000,1]]}}";

    #[test]
    fn wamp_subscribers_get_the_event_plain_clients_the_content() {
        let hub = Hub::new(4);
        let (wamp, mut wamp_rx) = hub.register(Interest::Topics);
        let (_other, mut other_rx) = hub.register(Interest::Topics);
        let (_plain, mut plain_rx) = hub.register(Interest::Everything);
        let (_only_v, mut only_v_rx) = hub.register(Interest::Channels(vec!["V".into()]));
        hub.subscribe(wamp, "U");
        hub.subscribe(wamp, "U");

        assert_eq!(
            hub.publish("U", CONTENT),
            Delivery {
                queued: 2,
                evicted: 0
            }
        );
        assert_eq!(
            wamp_rx.try_recv().unwrap().as_str(),
            protocol::wamp_v1::event("U", CONTENT)
        );
        assert_eq!(plain_rx.try_recv().unwrap().as_str(), CONTENT);
        assert!(other_rx.try_recv().is_err(), "not subscribed");
        assert!(only_v_rx.try_recv().is_err(), "filtered to V");
        assert!(
            wamp_rx.try_recv().is_err(),
            "duplicate subscribe delivers once"
        );

        assert_eq!(hub.publish("V", CONTENT).queued, 2);
        assert_eq!(only_v_rx.try_recv().unwrap().as_str(), CONTENT);
    }

    #[test]
    fn unsubscribe_and_unregister_remove_sessions_from_topics() {
        let hub = Hub::new(4);
        let (a, _a_rx) = hub.register(Interest::Topics);
        let (b, _b_rx) = hub.register(Interest::Topics);
        hub.subscribe(a, "U");
        hub.subscribe(b, "U");
        hub.subscribe(b, "V");
        hub.unsubscribe(a, "U");
        assert_eq!(hub.subscriber_count("U"), 1);
        assert!(hub.unregister(b));
        assert_eq!(hub.subscriber_count("U"), 0);
        assert_eq!(hub.subscriber_count("V"), 0);
        assert_eq!(hub.session_count(), 1);
        assert!(!hub.unregister(b));
    }

    #[test]
    fn a_full_queue_evicts_only_that_session() {
        let hub = Hub::new(2);
        let (slow, mut slow_rx) = hub.register(Interest::Topics);
        let (fast, mut fast_rx) = hub.register(Interest::Topics);
        hub.subscribe(slow, "U");
        hub.subscribe(fast, "U");
        for i in 0..5 {
            let delivery = hub.publish("U", CONTENT);
            assert_eq!(
                fast_rx.try_recv().unwrap().as_str(),
                protocol::wamp_v1::event("U", CONTENT)
            );
            assert_eq!(delivery.evicted, usize::from(i == 2), "publish {i}");
        }
        assert_eq!(hub.stats().slow_disconnects.load(Ordering::Relaxed), 1);
        assert_eq!(hub.subscriber_count("U"), 1);
        // The evicted session drains what was queued and then sees the end of its queue.
        assert!(slow_rx.try_recv().is_ok());
        assert!(slow_rx.try_recv().is_ok());
        assert_eq!(
            slow_rx.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        );
    }
}
