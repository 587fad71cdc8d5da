//! The fan-out hub: who listens to what, and delivery that never waits for a client.
//!
//! Each WebSocket session registers once and gets the receiving end of a bounded queue; the hub
//! keeps the only sender. Publishing encodes a frame at most once per protocol and `try_send`s it
//! to every interested session. A full queue means the client cannot keep up: it is evicted
//! (its sender dropped, which its session task sees as the end of the queue) and counted, so one
//! slow browser never delays vzlogger's HTTP response or the other clients (decision 9).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::mpsc;

use crate::protocol;

/// Identifies one registered session.
pub type SessionId = u64;

/// A topic name, shared between the topic maps and the sessions subscribed to it.
type Topic = Arc<str>;

/// `id` joins `topic` in `topics`; returns the shared name.
fn join(topics: &mut HashMap<Topic, HashSet<SessionId>>, topic: &str, id: SessionId) -> Topic {
    if let Some((name, _)) = topics.get_key_value(topic) {
        let name = name.clone();
        topics.entry(name.clone()).or_default().insert(id);
        return name;
    }
    let name: Topic = Arc::from(topic);
    topics.insert(name.clone(), HashSet::from([id]));
    name
}

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
    /// The topics this session is in (WAMP subscriptions or its plain filter), so leaving costs
    /// its own topics, not a walk over every topic under the lock. The names are shared with
    /// the topic maps; a short list, as a browser subscribes to a handful of channels.
    topics: Vec<Topic>,
    /// Whether `topics` are plain-filter topics (else WAMP subscriptions).
    plain: bool,
}

/// Why a subscription was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    /// The session has as many subscriptions as one connection may have.
    #[error("at most {0} subscriptions per connection")]
    TooMany(usize),
    /// The topic is longer than any channel UUID could be.
    #[error("topics are at most {0} bytes long")]
    TopicTooLong(usize),
}

/// What one session may ask of the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubLimits {
    /// Frames a session may fall behind before it is evicted.
    pub queue_capacity: usize,
    /// Topics one session may subscribe to (WAMP) or filter on (plain `?uuid=`).
    pub max_subscriptions: usize,
    /// Longest topic in bytes (a UUID has 36).
    pub max_topic_len: usize,
}

impl Default for HubLimits {
    fn default() -> Self {
        HubLimits {
            queue_capacity: 256,
            max_subscriptions: 1024,
            max_topic_len: 256,
        }
    }
}

#[derive(Default)]
struct Registry {
    sessions: HashMap<SessionId, Subscriber>,
    /// Topic → WAMP sessions subscribed to it. Empty sets are removed, so an unwatched channel
    /// costs no encoding.
    wamp_topics: HashMap<Topic, HashSet<SessionId>>,
    /// Topic → plain sessions that asked for this channel only.
    plain_topics: HashMap<Topic, HashSet<SessionId>>,
    /// Plain sessions that receive every channel.
    plain_all: HashSet<SessionId>,
}

impl Registry {
    fn remove(&mut self, id: SessionId) -> Option<usize> {
        let subscriber = self.sessions.remove(&id)?;
        self.plain_all.remove(&id);
        let topics = if subscriber.plain {
            &mut self.plain_topics
        } else {
            &mut self.wamp_topics
        };
        for topic in &subscriber.topics {
            leave(topics, topic, id);
        }
        Some(subscriber.topics.len())
    }
}

/// Removes `id` from `topic`, dropping the topic when it was the last one.
fn leave(topics: &mut HashMap<Topic, HashSet<SessionId>>, topic: &str, id: SessionId) {
    if let Some(ids) = topics.get_mut(topic) {
        ids.remove(&id);
        if ids.is_empty() {
            topics.remove(topic);
        }
    }
}

/// Counters for operators and tests, registered as metrics.
#[derive(Debug, Clone, Default)]
pub struct HubStats {
    /// Frames queued for delivery.
    pub delivered: Counter,
    /// Sessions disconnected because their queue was full.
    pub slow_disconnects: Counter,
    /// Subscriptions refused (too many, topic too long).
    pub refused_subscriptions: Counter,
    /// Sessions registered now.
    pub sessions: Gauge,
    /// Topic subscriptions (WAMP) and filtered channels (plain) now.
    pub subscriptions: Gauge,
    /// Frames waiting in session queues, as of the last [`Hub::refresh_gauges`].
    pub queued_frames: Gauge,
}

impl HubStats {
    /// Registers the counters.
    pub fn register(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "frames_delivered",
            "Frames queued for WebSocket clients",
            self.delivered.clone(),
        );
        registry.register(
            "slow_client_evictions",
            "Clients disconnected for not reading fast enough (close 1013)",
            self.slow_disconnects.clone(),
        );
        registry.register(
            "refused_subscriptions",
            "Subscriptions refused: too many per connection or topic too long",
            self.refused_subscriptions.clone(),
        );
        registry.register(
            "sessions",
            "WebSocket sessions registered",
            self.sessions.clone(),
        );
        registry.register(
            "subscriptions",
            "WAMP topic subscriptions and plain channel filters",
            self.subscriptions.clone(),
        );
        registry.register(
            "queued_frames",
            "Frames waiting in session queues",
            self.queued_frames.clone(),
        );
    }
}

/// The topic registry and fan-out.
pub struct Hub {
    registry: Mutex<Registry>,
    next_id: AtomicU64,
    limits: HubLimits,
    stats: HubStats,
    /// Eviction log lines; a reconnect storm of slow clients must not flood the journal.
    log: crate::throttle::Throttle,
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
    /// A hub whose sessions may fall `queue_capacity` frames behind before being evicted, with
    /// the default subscription limits.
    pub fn new(queue_capacity: usize) -> Hub {
        Hub::with_limits(HubLimits {
            queue_capacity,
            ..HubLimits::default()
        })
    }

    /// A hub with the given limits.
    pub fn with_limits(limits: HubLimits) -> Hub {
        Hub {
            registry: Mutex::default(),
            next_id: AtomicU64::new(1),
            limits: HubLimits {
                queue_capacity: limits.queue_capacity.max(1),
                ..limits
            },
            stats: HubStats::default(),
            log: crate::throttle::Throttle::default(),
        }
    }

    /// The limits sessions are held to.
    pub fn limits(&self) -> HubLimits {
        self.limits
    }

    /// Delivery counters.
    pub fn stats(&self) -> &HubStats {
        &self.stats
    }

    /// Checks a plain client's channel filter against the limits before it connects.
    ///
    /// # Errors
    /// [`SubscribeError`] when the filter is longer than a session may subscribe to.
    pub fn check_interest(&self, interest: &Interest) -> Result<(), SubscribeError> {
        let Interest::Channels(channels) = interest else {
            return Ok(());
        };
        if channels.len() > self.limits.max_subscriptions {
            return Err(SubscribeError::TooMany(self.limits.max_subscriptions));
        }
        match channels.iter().any(|c| c.len() > self.limits.max_topic_len) {
            true => Err(SubscribeError::TopicTooLong(self.limits.max_topic_len)),
            false => Ok(()),
        }
    }

    /// Registers a session; the receiver ends when the session is evicted or unregistered.
    /// A plain filter is taken as given; check it first with [`Hub::check_interest`].
    pub fn register(&self, interest: Interest) -> (SessionId, mpsc::Receiver<Frame>) {
        let (tx, rx) = mpsc::channel(self.limits.queue_capacity);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut registry = self.lock();
        let mut topics: Vec<Topic> = Vec::new();
        let plain = interest != Interest::Topics;
        match interest {
            Interest::Topics => {}
            Interest::Everything => {
                registry.plain_all.insert(id);
            }
            Interest::Channels(channels) => {
                for channel in channels {
                    if !topics.iter().any(|t| **t == *channel) {
                        topics.push(join(&mut registry.plain_topics, &channel, id));
                    }
                }
                topics.shrink_to_fit();
            }
        }
        self.stats.subscriptions.inc_by(gauge_value(topics.len()));
        registry
            .sessions
            .insert(id, Subscriber { tx, topics, plain });
        self.stats
            .sessions
            .set(gauge_value(registry.sessions.len()));
        (id, rx)
    }

    /// Removes a session from its topics. Returns false if it was already gone (evicted).
    pub fn unregister(&self, id: SessionId) -> bool {
        let mut registry = self.lock();
        let removed = registry.remove(id);
        self.after_removal(&registry, removed);
        removed.is_some()
    }

    fn after_removal(&self, registry: &Registry, removed: Option<usize>) {
        if let Some(topics) = removed {
            self.stats.subscriptions.dec_by(gauge_value(topics));
            self.stats
                .sessions
                .set(gauge_value(registry.sessions.len()));
        }
    }

    /// Subscribes a WAMP session to a topic; a repeated subscribe is a no-op.
    ///
    /// # Errors
    /// [`SubscribeError`] when the topic is too long or the session has as many topics as it
    /// may have; the subscription is not made.
    pub fn subscribe(&self, id: SessionId, topic: &str) -> Result<(), SubscribeError> {
        if topic.len() > self.limits.max_topic_len {
            self.stats.refused_subscriptions.inc();
            return Err(SubscribeError::TopicTooLong(self.limits.max_topic_len));
        }
        let mut registry = self.lock();
        let Some(subscriber) = registry.sessions.get_mut(&id) else {
            return Ok(());
        };
        if subscriber.topics.iter().any(|t| **t == *topic) {
            return Ok(());
        }
        if subscriber.topics.len() >= self.limits.max_subscriptions {
            self.stats.refused_subscriptions.inc();
            return Err(SubscribeError::TooMany(self.limits.max_subscriptions));
        }
        let name = join(&mut registry.wamp_topics, topic, id);
        if let Some(subscriber) = registry.sessions.get_mut(&id) {
            // One slot at a time: most sessions hold one or two topics.
            subscriber.topics.reserve_exact(1);
            subscriber.topics.push(name);
        }
        self.stats.subscriptions.inc();
        Ok(())
    }

    /// Unsubscribes a WAMP session; unknown topics are ignored.
    pub fn unsubscribe(&self, id: SessionId, topic: &str) {
        let mut registry = self.lock();
        let Some(subscriber) = registry.sessions.get_mut(&id) else {
            return;
        };
        if let Some(at) = subscriber.topics.iter().position(|t| **t == *topic) {
            subscriber.topics.swap_remove(at);
            leave(&mut registry.wamp_topics, topic, id);
            self.stats.subscriptions.dec();
        }
    }

    /// Updates the gauges that are computed rather than counted (frames waiting in queues).
    pub fn refresh_gauges(&self) {
        let registry = self.lock();
        let queued: usize = registry
            .sessions
            .values()
            .map(|s| s.tx.max_capacity() - s.tx.capacity())
            .sum();
        self.stats.queued_frames.set(gauge_value(queued));
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
            let removed = registry.remove(id);
            self.after_removal(registry, removed);
            if removed.is_some() && slow {
                delivery.evicted += 1;
            }
        }
        self.stats.delivered.inc_by(delivery.queued as u64);
        if delivery.evicted > 0 {
            self.stats.slow_disconnects.inc_by(delivery.evicted as u64);
            self.log.log(|| {
                tracing::info!(
                    evicted = delivery.evicted,
                    still_served = delivery.queued,
                    "disconnected WebSocket clients that could not keep up (close 1013)"
                );
            });
        }
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

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
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
        hub.subscribe(wamp, "U").unwrap();
        hub.subscribe(wamp, "U").unwrap();

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
        hub.subscribe(a, "U").unwrap();
        hub.subscribe(b, "U").unwrap();
        hub.subscribe(b, "V").unwrap();
        hub.unsubscribe(a, "U");
        assert_eq!(hub.subscriber_count("U"), 1);
        assert!(hub.unregister(b));
        assert_eq!(hub.subscriber_count("U"), 0);
        assert_eq!(hub.subscriber_count("V"), 0);
        assert_eq!(hub.session_count(), 1);
        assert!(!hub.unregister(b));
        assert_eq!(hub.stats().subscriptions.get(), 0);
        assert_eq!(hub.stats().sessions.get(), 1);
    }

    #[test]
    fn subscriptions_are_bounded_per_session() {
        let hub = Hub::with_limits(HubLimits {
            queue_capacity: 4,
            max_subscriptions: 3,
            max_topic_len: 8,
        });
        let (a, _a_rx) = hub.register(Interest::Topics);
        for topic in ["t1", "t2", "t3", "t3"] {
            hub.subscribe(a, topic).unwrap();
        }
        assert_eq!(hub.subscribe(a, "t4"), Err(SubscribeError::TooMany(3)));
        assert_eq!(
            hub.subscribe(a, "123456789"),
            Err(SubscribeError::TopicTooLong(8))
        );
        assert_eq!(hub.subscriber_count("t4"), 0);
        hub.unsubscribe(a, "t1");
        hub.subscribe(a, "t4").unwrap();
        assert_eq!(hub.stats().subscriptions.get(), 3);
        assert_eq!(hub.stats().refused_subscriptions.get(), 2);
        let too_many = Interest::Channels(vec!["a".into(), "b".into(), "c".into(), "d".into()]);
        assert_eq!(
            hub.check_interest(&too_many),
            Err(SubscribeError::TooMany(3))
        );
        assert!(hub.unregister(a));
        assert_eq!(hub.stats().subscriptions.get(), 0);
    }

    #[test]
    fn a_full_queue_evicts_only_that_session() {
        let hub = Hub::new(2);
        let (slow, mut slow_rx) = hub.register(Interest::Topics);
        let (fast, mut fast_rx) = hub.register(Interest::Topics);
        hub.subscribe(slow, "U").unwrap();
        hub.subscribe(fast, "U").unwrap();
        for i in 0..5 {
            let delivery = hub.publish("U", CONTENT);
            assert_eq!(
                fast_rx.try_recv().unwrap().as_str(),
                protocol::wamp_v1::event("U", CONTENT)
            );
            assert_eq!(delivery.evicted, usize::from(i == 2), "publish {i}");
        }
        assert_eq!(hub.stats().slow_disconnects.get(), 1);
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
