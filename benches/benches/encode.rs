//! Encoding one channel update per protocol: the plain WebSocket content
//! (`protocol::update_content`) and the WAMP v1 EVENT around it (`protocol::wamp_v1::event`).
//!
//! `cargo bench -p benches --bench encode`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use push_core::reading::Converted;
use push_server::protocol::{self, wamp_v1};

const UUID: &str = "0a2b7c10-1111-11eb-a092-174646e1882d";

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for (label, n) in [("1tuple", 1), ("10tuples", 10)] {
        let tuples: Vec<Converted> = (0..n)
            .map(|i| Converted::Tuple {
                ts: 1_700_000_000_000.0 + f64::from(i) * 1000.0,
                value: 3600.0 + f64::from(i) * 0.25,
                count: 1,
            })
            .collect();
        group.bench_function(format!("plain_{label}"), |b| {
            b.iter(|| black_box(protocol::update_content(black_box(UUID), &tuples)));
        });
        let content = protocol::update_content(UUID, &tuples);
        group.bench_function(format!("wamp_v1_event_{label}"), |b| {
            b.iter(|| black_box(wamp_v1::event(black_box(UUID), black_box(&content))));
        });
    }
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
