//! Readings as pushed by a logger and as converted for clients.
//!
//! A pushed tuple keeps the JSON kind of each element ([`Num::Int`] or [`Num::Float`]) because
//! virtual channels pass it through unchanged, and the PHP server wrote integers as integers.

use std::fmt::Write;

use crate::number;

/// One numeric element of a pushed tuple, in the kind it arrived as.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// An integer that fits `i64`.
    Int(i64),
    /// Any other number; always finite (the payload parser rejects non-finite values).
    Float(f64),
}

impl Num {
    /// The value as a float, as PHP's arithmetic sees it.
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// PHP's `(int)` cast: floats are truncated toward zero.
    ///
    /// PHP wraps floats beyond `i64` modulo 2^64; we saturate instead (and map NaN to 0, as PHP
    /// does). Neither happens for a sane count.
    pub fn to_int(self) -> i64 {
        match self {
            Num::Int(i) => i,
            Num::Float(f) => f as i64,
        }
    }

    /// PHP's loose `==` between numbers: two integers compare exactly, anything else as floats
    /// (so `5 == 5.0`).
    pub fn loose_eq(self, other: Num) -> bool {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a == b,
            (a, b) => a.as_f64() == b.as_f64(),
        }
    }

    /// Appends the JSON text: integers in decimal, floats in PHP's format ([`number`]).
    pub fn write_json(self, out: &mut String) {
        match self {
            // Writing to a String cannot fail.
            Num::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Num::Float(f) => number::write_f64(out, f),
        }
    }
}

/// A pushed tuple after count padding: `[ts, value, count, …]`, at least three elements.
///
/// Elements beyond the count are kept: accumulator channels use element 3 and sensor channels
/// element 4 in place of element 1 when present (spec 1.2), and virtual channels echo them.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTuple {
    /// Invariant: at least three elements (enforced by [`RawTuple::new`]), so the accessors for
    /// elements 0 to 2 index without checks.
    elements: Vec<Num>,
}

impl RawTuple {
    /// Builds a tuple from pushed elements, appending the default count `1` to a two-element
    /// tuple. Returns `None` for fewer than two elements (no timestamp and value).
    pub fn new(mut elements: Vec<Num>) -> Option<RawTuple> {
        match elements.len() {
            0 | 1 => None,
            2 => {
                elements.push(Num::Int(1));
                Some(RawTuple { elements })
            }
            _ => Some(RawTuple { elements }),
        }
    }

    /// Element 0, the timestamp in Unix milliseconds.
    pub fn ts(&self) -> f64 {
        self.elements[0].as_f64()
    }

    /// Element 1, the raw value.
    pub fn value(&self) -> f64 {
        self.elements[1].as_f64()
    }

    /// Element 2 cast like PHP's `(int)`: the number of readings this tuple stands for.
    pub fn count(&self) -> i64 {
        self.elements[2].to_int()
    }

    /// Element `i`, if present.
    pub fn get(&self, i: usize) -> Option<Num> {
        self.elements.get(i).copied()
    }

    /// All elements (at least three).
    pub fn elements(&self) -> &[Num] {
        &self.elements
    }

    /// Appends the tuple as a JSON array, elements in their original kinds.
    pub fn write_json(&self, out: &mut String) {
        out.push('[');
        for (i, n) in self.elements.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            n.write_json(out);
        }
        out.push(']');
    }
}

/// A tuple ready for clients.
#[derive(Debug, Clone, PartialEq)]
pub enum Converted {
    /// The result of impulse, accumulator and sensor conversion: `[ts, value, count]`.
    Tuple {
        /// Timestamp in Unix milliseconds.
        ts: f64,
        /// The converted value in the channel's unit.
        value: f64,
        /// Number of readings this tuple stands for.
        count: i64,
    },
    /// A virtual channel's tuple, echoed as pushed.
    Passthrough(RawTuple),
}

impl Converted {
    /// The timestamp in Unix milliseconds.
    pub fn ts(&self) -> f64 {
        match self {
            Converted::Tuple { ts, .. } => *ts,
            Converted::Passthrough(raw) => raw.ts(),
        }
    }

    /// Appends the JSON array, e.g. `[2,36000000,1]`, with numbers formatted as PHP does.
    pub fn write_json(&self, out: &mut String) {
        match self {
            Converted::Tuple { ts, value, count } => {
                out.push('[');
                number::write_f64(out, *ts);
                out.push(',');
                number::write_f64(out, *value);
                // Writing to a String cannot fail.
                let _ = write!(out, ",{count}]");
            }
            Converted::Passthrough(raw) => raw.write_json(out),
        }
    }

    /// The JSON array as a new string; see [`Converted::write_json`].
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(32);
        self.write_json(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Num::{Float, Int};

    fn check(elements: &[Num], expect: Option<&str>) {
        let got = RawTuple::new(elements.to_vec()).map(|t| {
            let mut out = String::new();
            t.write_json(&mut out);
            out
        });
        assert_eq!(got.as_deref(), expect, "{elements:?}");
    }

    #[test]
    fn padding_and_json() {
        check(&[], None);
        check(&[Int(1)], None);
        check(&[Int(1), Int(2)], Some("[1,2,1]"));
        check(&[Int(1), Float(2.5)], Some("[1,2.5,1]"));
        check(
            &[Float(1461528098234.0), Float(660.9000000000001)],
            Some("[1461528098234,660.9000000000001,1]"),
        );
        check(&[Int(1), Int(2), Int(7)], Some("[1,2,7]"));
        check(
            &[Int(1), Int(2), Float(3.0), Int(4), Float(1e-5)],
            Some("[1,2,3,4,1.0e-5]"),
        );
    }

    #[test]
    fn accessors() {
        let t = RawTuple::new(vec![Int(10), Float(2.5), Float(3.9), Int(4)]).unwrap();
        assert_eq!((t.ts(), t.value(), t.count()), (10.0, 2.5, 3));
        assert_eq!((t.get(3), t.get(4)), (Some(Int(4)), None));
        assert_eq!(t.elements().len(), 4);
        let negative = RawTuple::new(vec![Int(10), Int(1), Float(-2.9)]).unwrap();
        assert_eq!(negative.count(), -2);
    }

    #[test]
    fn php_casts_and_comparison() {
        assert_eq!(Float(1e30).to_int(), i64::MAX);
        assert_eq!(Float(f64::NAN).to_int(), 0);
        assert!(Int(5).loose_eq(Float(5.0)));
        assert!(Float(5.0).loose_eq(Int(5)));
        assert!(!Int(5).loose_eq(Int(6)));
        // Integers beyond 2^53 stay distinct when both are integers.
        assert!(!Int(9_007_199_254_740_993).loose_eq(Int(9_007_199_254_740_992)));
    }

    #[test]
    fn converted_json() {
        let cases = [
            (
                Converted::Tuple {
                    ts: 2.0,
                    value: 36_000_000.0,
                    count: 1,
                },
                "[2,36000000,1]",
            ),
            (
                Converted::Tuple {
                    ts: 1.7e12,
                    value: 189.47368421052633,
                    count: 3,
                },
                "[1700000000000,189.47368421052633,3]",
            ),
            (
                Converted::Tuple {
                    ts: 5.0,
                    value: -0.0,
                    count: 0,
                },
                "[5,-0,0]",
            ),
            (
                Converted::Passthrough(RawTuple::new(vec![Int(7), Float(21.75)]).unwrap()),
                "[7,21.75,1]",
            ),
        ];
        for (c, expect) in cases {
            assert_eq!(c.to_json(), expect);
        }
    }
}
