//! Per-channel conversion of pushed readings into values (spec 1.4 and 2).
//!
//! One [`Converter`] lives per channel for the life of the server and is fed every tuple pushed
//! for that channel, in order. It reproduces the PHP push-server's results with one deliberate
//! difference (decision 3): time only moves forward. A tuple whose timestamp is not after the
//! last converted one is dropped *without* touching the state, so there is no negative Δt,
//! no division by zero, and a late tuple cannot disturb the next good one.
//!
//! Other rules kept from PHP: the very first tuple only primes the state (there is nothing to
//! measure a rate against yet); accumulator channels skip tuples whose raw value equals the last
//! converted one, so the next change is measured over the whole unchanged stretch.

use std::cmp::Ordering;

use crate::definition::{EntityDefinition, Interpreter};
use crate::reading::{Converted, Num, RawTuple};

/// Milliseconds per hour: readings are timestamped in ms, rates are per hour.
const MS_PER_HOUR: f64 = 3.6e6;

/// What a channel's conversion depends on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelParams {
    /// From the channel's entity type.
    pub interpreter: Interpreter,
    /// The type's unit prefix factor (1000 for W-based types).
    pub scale: f64,
    /// The channel's `resolution` property, 1 when it has none.
    pub resolution: f64,
}

impl ChannelParams {
    /// Parameters for a channel of type `def` with the given `resolution` property.
    pub fn new(def: &EntityDefinition, resolution: Option<f64>) -> Self {
        ChannelParams {
            interpreter: def.interpreter(),
            scale: def.scale(),
            resolution: resolution.unwrap_or(1.0),
        }
    }
}

/// Why a channel cannot be converted.
///
/// Deliberately exhaustive: callers map each reason to a response, and a new reason should make
/// them decide how to report it.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum ConvertError {
    /// The UUID names a group, which has no readings of its own. The message is volkszaehler's.
    #[error("Getting data is not supported for groups")]
    Group,
}

/// The result of feeding one tuple to a [`Converter`].
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Outcome {
    /// The channel's first tuple: it set the state and produces no value.
    Primed,
    /// A value for clients.
    Converted(Converted),
    /// Accumulator only: the meter reading did not change, so the tuple is skipped and the next
    /// change is measured from the last converted tuple.
    Duplicate,
    /// The timestamp is not after the last converted one; dropped, state unchanged.
    OutOfOrder,
    /// The arithmetic overflowed (e.g. a huge raw value); dropped, state unchanged.
    NonFinite,
}

/// The per-channel conversion state machine.
#[derive(Debug, Clone)]
pub struct Converter {
    params: ChannelParams,
    kind: Kind,
    /// The last primed or converted tuple; `None` until the first tuple arrives.
    last: Option<Last>,
}

/// The interpreters that can convert; groups are excluded at construction, so conversion never
/// needs a "cannot happen" branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Impulse,
    Accumulator,
    Sensor,
    Virtual,
}

impl Kind {
    fn of(interpreter: Interpreter) -> Result<Kind, ConvertError> {
        match interpreter {
            Interpreter::Aggregator => Err(ConvertError::Group),
            Interpreter::Impulse => Ok(Kind::Impulse),
            Interpreter::Accumulator => Ok(Kind::Accumulator),
            Interpreter::Sensor => Ok(Kind::Sensor),
            Interpreter::Virtual => Ok(Kind::Virtual),
        }
    }
}

/// What is remembered of the last primed or converted tuple.
#[derive(Debug, Clone, Copy)]
struct Last {
    ts: f64,
    /// Element 1 as pushed, for the accumulator duplicate check (PHP compares element 1 even
    /// when element 3 is the one converted).
    raw: Num,
    /// The accumulator's counter reading: element 3 when present, else element 1.
    counter: f64,
}

impl Last {
    fn of(t: &RawTuple) -> Last {
        let raw = t.elements()[1];
        Last {
            ts: t.ts(),
            raw,
            counter: t.get(3).unwrap_or(raw).as_f64(),
        }
    }
}

impl Converter {
    /// A converter with no state yet.
    ///
    /// # Errors
    /// [`ConvertError::Group`] for group types (aggregator interpreter).
    pub fn new(params: ChannelParams) -> Result<Self, ConvertError> {
        Ok(Converter {
            kind: Kind::of(params.interpreter)?,
            params,
            last: None,
        })
    }

    /// The parameters in use.
    pub fn params(&self) -> &ChannelParams {
        &self.params
    }

    /// The timestamp of the last primed or converted tuple, if any.
    pub fn last_ts(&self) -> Option<f64> {
        self.last.map(|l| l.ts)
    }

    /// Applies refreshed channel metadata (decision 5), e.g. an edited resolution.
    ///
    /// The conversion state is kept, so no reading is lost to a new priming. If the interpreter
    /// itself changed (the channel's type was edited), the old state means something else and
    /// is dropped: the next tuple primes again.
    ///
    /// # Errors
    /// [`ConvertError::Group`] if the channel became a group; the converter is left unchanged.
    pub fn update_params(&mut self, params: ChannelParams) -> Result<(), ConvertError> {
        let kind = Kind::of(params.interpreter)?;
        if kind != self.kind {
            self.last = None;
        }
        self.kind = kind;
        self.params = params;
        Ok(())
    }

    /// Feeds one tuple.
    pub fn convert(&mut self, t: &RawTuple) -> Outcome {
        let Some(last) = self.last else {
            self.last = Some(Last::of(t));
            return Outcome::Primed;
        };
        let ts = t.ts();
        if ts.partial_cmp(&last.ts) != Some(Ordering::Greater) {
            return Outcome::OutOfOrder;
        }
        let ChannelParams {
            scale, resolution, ..
        } = self.params;
        let dt = ts - last.ts;
        let converted = match self.kind {
            Kind::Impulse => {
                let value = (t.value() * MS_PER_HOUR * scale) / (resolution * dt);
                tuple(ts, value, t)
            }
            Kind::Accumulator => {
                if last.raw.loose_eq(t.elements()[1]) {
                    return Outcome::Duplicate;
                }
                let counter = t.get(3).map_or_else(|| t.value(), Num::as_f64);
                let value = ((counter - last.counter) * MS_PER_HOUR * scale) / (dt * resolution);
                tuple(ts, value, t)
            }
            Kind::Sensor => {
                let v = t.get(4).map_or_else(|| t.value(), Num::as_f64);
                tuple(ts, v / resolution, t)
            }
            Kind::Virtual => Some(Converted::Passthrough(t.clone())),
        };
        match converted {
            Some(c) => {
                self.last = Some(Last::of(t));
                Outcome::Converted(c)
            }
            None => Outcome::NonFinite,
        }
    }
}

/// A converted tuple, or `None` when the value is not finite.
fn tuple(ts: f64, value: f64, t: &RawTuple) -> Option<Converted> {
    value.is_finite().then(|| Converted::Tuple {
        ts,
        value,
        count: t.count(),
    })
}

#[cfg(test)]
mod tests;
