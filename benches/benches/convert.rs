//! Conversion of one pushed tuple per interpreter (`push_core::convert::Converter::convert`).
//!
//! `cargo bench -p benches --bench convert`

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use push_core::convert::{ChannelParams, Converter};
use push_core::definition;
use push_core::reading::{Num, RawTuple};

/// One entity type per interpreter, with a typical resolution.
const CASES: [(&str, &str, f64); 4] = [
    ("impulse", "power", 1000.0),
    ("accumulator", "electric meter", 1000.0),
    ("sensor", "temperature", 1.0),
    ("virtual", "virtualsensor", 1.0),
];

fn tuple(ts: i64, value: i64) -> RawTuple {
    // Two elements always make a tuple; the count is padded.
    RawTuple::new(vec![Num::Int(ts), Num::Int(value)]).expect("two elements")
}

fn convert(c: &mut Criterion) {
    let mut group = c.benchmark_group("convert");
    for (label, kind, resolution) in CASES {
        let def = definition::definition(kind).expect("a known entity type");
        let mut converter =
            Converter::new(ChannelParams::new(def, Some(resolution))).expect("a channel type");
        // Strictly increasing timestamps and changing values, so every tuple converts (the
        // accumulator would skip an unchanged reading). Building the tuple is not timed.
        let mut next = 1_700_000_000_000_i64;
        let _primed = converter.convert(&tuple(next, 0));
        group.bench_function(label, |b| {
            b.iter_batched(
                || {
                    next += 1000;
                    tuple(next, next % 1000 + 1)
                },
                |t| black_box(converter.convert(&t)),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, convert);
criterion_main!(benches);
