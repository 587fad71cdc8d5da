//! `Hub::publish` to 1, 100 and 10,000 subscribers of one channel: WAMP topic subscribers and
//! unfiltered plain WebSocket sessions. Measures encoding plus queueing; the session tasks that
//! write to sockets are not part of it (the load generator measures those).
//!
//! `cargo bench -p benches --bench fanout`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use push_server::hub::{Frame, Hub, Interest};
use tokio::sync::mpsc;

const UUID: &str = "0a2b7c10-1111-11eb-a092-174646e1882d";
const CONTENT: &str = "{\"version\":\"0.3\",\"data\":{\"uuid\":\"0a2b7c10-1111-11eb-a092-174646e1882d\",\"tuples\":[[1700000001000,21.5,1]]}}";
/// Queue capacity; the queues are drained (untimed) before they fill, so nobody is evicted.
const CAPACITY: usize = 64;

/// Publishes `iters` times, timing only the publishes and draining every queue in between.
fn timed_publishes(hub: &Hub, queues: &mut [mpsc::Receiver<Frame>], iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let batch = (iters - done).min(CAPACITY as u64);
        let start = Instant::now();
        for _ in 0..batch {
            black_box(hub.publish(UUID, CONTENT));
        }
        total += start.elapsed();
        for queue in queues.iter_mut() {
            while queue.try_recv().is_ok() {}
        }
        done += batch;
    }
    total
}

fn publish(c: &mut Criterion) {
    let mut group = c.benchmark_group("hub_publish");
    for n in [1_usize, 100, 10_000] {
        group.throughput(Throughput::Elements(n as u64));
        if n == 10_000 {
            group.sample_size(20);
        }
        for (label, wamp) in [("wamp", true), ("plain", false)] {
            let hub = Hub::new(CAPACITY);
            let mut queues: Vec<_> = (0..n)
                .map(|_| {
                    let interest = if wamp {
                        Interest::Topics
                    } else {
                        Interest::Everything
                    };
                    let (id, queue) = hub.register(interest);
                    if wamp {
                        hub.subscribe(id, UUID).expect("within the limits");
                    }
                    queue
                })
                .collect();
            group.bench_function(BenchmarkId::new(label, n), |b| {
                b.iter_custom(|iters| timed_publishes(&hub, &mut queues, iters));
            });
            assert_eq!(hub.stats().slow_disconnects.get(), 0);
        }
    }
    group.finish();
}

criterion_group!(benches, publish);
criterion_main!(benches);
