//! volkszaehler domain logic without I/O.
//!
//! Everything here is pure: values in, values out. The push-server, the middleware and the tools
//! do the I/O and the logging around it.
//!
//! # Layout
//! - [`config`]: the volkszaehler `config.yaml` schema (parsed from a string, never read from disk).
//! - [`definition`]: the 38 entity types (interpreter, unit, scale, allowed properties).
//! - [`property`]: the 32 property definitions and how property values are validated and stored.
//! - [`number`]: floats in PHP's JSON number format, so the wire looks like the PHP server's.
//! - [`reading`]: pushed tuples (with their JSON number kinds) and converted tuples.
//! - [`convert`]: the per-channel state machine turning pushed tuples into values.
//! - [`timestamp`]: the window of plausible reading times (not negative, not far ahead).
//! - [`payload`]: the body vzlogger pushes, parsed into per-channel entries (bad ones reported
//!   per channel).

pub mod config;
pub mod convert;
pub mod definition;
pub mod number;
pub mod payload;
pub mod property;
pub mod reading;
pub mod timestamp;

pub use convert::{ChannelParams, ConvertError, Converter, Outcome};
pub use definition::{EntityDefinition, Interpreter, Model};
pub use payload::{
    ChannelEntry, ChannelPush, EntryError, InvalidChannel, PayloadError, Push, is_valid_uuid,
};
pub use property::{PropertyDefinition, PropertyError, PropertyType, PropertyValue};
pub use reading::{Converted, Num, RawTuple};
