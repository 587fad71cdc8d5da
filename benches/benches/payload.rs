//! Parsing vzlogger push bodies (`push_core::payload::parse`).
//!
//! `cargo bench -p benches --bench payload`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A vzlogger body (json-c spacing, `%.17g` doubles) with `channels` channels of `tuples`
/// tuples each.
fn body(channels: usize, tuples: usize) -> String {
    let entries: Vec<String> = (0..channels)
        .map(|c| {
            let tuples: Vec<String> = (0..tuples)
                .map(|t| {
                    format!(
                        "[ {}, 660.90000000000009 ]",
                        1_461_528_098_234_u64 + t as u64
                    )
                })
                .collect();
            format!(
                "{{ \"uuid\": \"9ff4a200-0599-11e6-9d64-dd628ac5{c:04x}\", \"tuples\": [ {} ] }}",
                tuples.join(", ")
            )
        })
        .collect();
    format!("{{ \"data\": [ {} ] }}", entries.join(", "))
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("payload_parse");
    for (label, channels, tuples) in [
        ("1ch_1tuple", 1, 1),
        ("10ch_10tuples", 10, 10),
        ("1ch_1000tuples", 1, 1000),
    ] {
        let body = body(channels, tuples);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(label, |b| {
            b.iter(|| black_box(push_core::payload::parse(black_box(body.as_bytes()))));
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
