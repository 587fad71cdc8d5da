//! The body vzlogger pushes (spec 1.2), parsed into per-channel readings.
//!
//! ```json
//! {"data": [{"uuid": "…", "tuples": [[1461528098234, 660.9], [ts, value, count]]}]}
//! ```
//!
//! Only problems with the body as a whole ([`PayloadError`]) reject the request. Everything
//! about one channel entry ([`EntryError`]) rejects just that entry, so one bad channel never
//! blocks the others (decision 2). A channel with a bad tuple is rejected whole, before any
//! conversion, so a half-applied channel cannot leave conversion state behind.
//!
//! Numbers follow PHP where it is sound: integers and floats keep their kind, numeric strings
//! (`"5"`, `" 2.5"`, `"1e3"`) are coerced. We are stricter than PHP on purpose where PHP
//! invented a reading: `null` (PHP: 0), booleans, and leading-numeric strings such as
//! `"5 apples"` (PHP: 5) are rejected as "not numeric", because a missing value must never turn
//! into a fake zero reading.

mod document;

use std::borrow::Cow;

use document::{Node, Top};

use crate::reading::{Num, RawTuple};

/// A parsed push: one entry per channel entry of `data`, in request order.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// The channel entries in the order given (object members in document order).
    pub channels: Vec<ChannelEntry>,
}

/// One channel entry of a push.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelEntry {
    /// Well-formed: ready for conversion.
    Valid(ChannelPush),
    /// Malformed: to be reported, while the other entries proceed.
    Invalid(InvalidChannel),
}

/// A well-formed channel entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelPush {
    /// The UUID exactly as given (not yet checked, see [`is_valid_uuid`]).
    pub uuid: String,
    /// At least one tuple, count-padded.
    pub tuples: Vec<RawTuple>,
}

/// A rejected channel entry.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidChannel {
    /// Position in `data` (0-based).
    pub index: usize,
    /// The UUID, when the entry had a string one.
    pub uuid: Option<String>,
    /// What is wrong.
    pub error: EntryError,
}

/// Why a push body as a whole was rejected.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadError {
    /// Not JSON (also an empty body).
    #[error("invalid JSON at line {line} column {column}: {message}")]
    InvalidJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error (0 at the very start).
        column: usize,
        /// serde_json's description.
        message: String,
    },
    /// The JSON is not an object.
    #[error("the body must be a JSON object with a \"data\" member, found {found}")]
    NotAnObject {
        /// The JSON type found.
        found: &'static str,
    },
    /// The object has no `data`, or it is `null`.
    #[error("\"data\" is missing or null")]
    MissingData,
    /// `data` is neither an array nor an object.
    #[error("\"data\" must be an array or an object, found {found}")]
    DataNotList {
        /// The JSON type found.
        found: &'static str,
    },
}

/// Why one channel entry was rejected.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryError {
    /// The entry is not an object.
    #[error("channel entry must be an object, found {found}")]
    NotAnObject {
        /// The JSON type found.
        found: &'static str,
    },
    /// No `uuid`, or `null`.
    #[error("\"uuid\" is missing or null")]
    MissingUuid,
    /// `uuid` is not a string.
    #[error("\"uuid\" must be a string, found {found}")]
    UuidNotString {
        /// The JSON type found.
        found: &'static str,
    },
    /// No `tuples`, or `null`.
    #[error("\"tuples\" is missing or null")]
    MissingTuples,
    /// `tuples` is neither an array nor an object.
    #[error("\"tuples\" must be an array or an object, found {found}")]
    TuplesNotList {
        /// The JSON type found.
        found: &'static str,
    },
    /// `tuples` is empty.
    #[error("\"tuples\" is empty")]
    NoTuples,
    /// A tuple is neither an array nor an object keyed `"0"`, `"1"`, ….
    #[error(
        "tuple {tuple} must be an array (or an object with keys \"0\", \"1\", …), found {found}"
    )]
    TupleNotArray {
        /// 0-based tuple position.
        tuple: usize,
        /// What was found (`object` for one with other keys).
        found: &'static str,
    },
    /// A tuple lacks a timestamp or a value.
    #[error("tuple {tuple} has {len} element(s), needs at least 2 (timestamp and value)")]
    TupleTooShort {
        /// 0-based tuple position.
        tuple: usize,
        /// Its length.
        len: usize,
    },
    /// A tuple element is not a number or numeric string.
    #[error("tuple {tuple} element {element} is not numeric: {found}")]
    ElementNotNumeric {
        /// 0-based tuple position.
        tuple: usize,
        /// 0-based element position.
        element: usize,
        /// What was found, e.g. `null` or `string "abc"`.
        found: String,
    },
}

/// Parses a push body.
///
/// # Errors
/// [`PayloadError`] when the body as a whole is unusable. An empty `data` (`[]` or `{}`) is a
/// valid push with no channels.
pub fn parse(body: &[u8]) -> Result<Push, PayloadError> {
    let top: Top<'_> = serde_json::from_slice(body).map_err(|e| {
        let message = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        PayloadError::InvalidJson {
            line: e.line(),
            column: e.column(),
            message: message.strip_suffix(&suffix).unwrap_or(&message).to_owned(),
        }
    })?;
    let data = match top {
        Top::Object {
            data: None | Some(Node::Null),
        } => return Err(PayloadError::MissingData),
        Top::Object { data: Some(data) } => data,
        Top::Other { kind } => return Err(PayloadError::NotAnObject { found: kind }),
    };
    let entries = list(data).map_err(|found| PayloadError::DataNotList { found })?;
    let channels = entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| channel(index, entry))
        .collect();
    Ok(Push { channels })
}

/// The members of an array, or the values of an object in document order (PHP's `foreach`).
fn list(node: Node<'_>) -> Result<Vec<Node<'_>>, &'static str> {
    match node {
        Node::Array(items) => Ok(items),
        Node::Object(members) => Ok(members.into_iter().map(|(_, v)| v).collect()),
        other => Err(other.kind()),
    }
}

fn channel(index: usize, entry: Node<'_>) -> ChannelEntry {
    let invalid =
        |uuid: Option<String>, error| ChannelEntry::Invalid(InvalidChannel { index, uuid, error });
    let Node::Object(mut members) = entry else {
        return invalid(
            None,
            EntryError::NotAnObject {
                found: entry.kind(),
            },
        );
    };
    let uuid = match Node::take(&mut members, "uuid") {
        None | Some(Node::Null) => return invalid(None, EntryError::MissingUuid),
        Some(Node::Str(s)) => s.into_owned(),
        Some(other) => {
            return invalid(
                None,
                EntryError::UuidNotString {
                    found: other.kind(),
                },
            );
        }
    };
    match tuples(Node::take(&mut members, "tuples")) {
        Ok(tuples) => ChannelEntry::Valid(ChannelPush { uuid, tuples }),
        Err(error) => invalid(Some(uuid), error),
    }
}

fn tuples(node: Option<Node<'_>>) -> Result<Vec<RawTuple>, EntryError> {
    let node = match node {
        None | Some(Node::Null) => return Err(EntryError::MissingTuples),
        Some(node) => node,
    };
    let items = list(node).map_err(|found| EntryError::TuplesNotList { found })?;
    if items.is_empty() {
        return Err(EntryError::NoTuples);
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| tuple(i, item))
        .collect()
}

fn tuple(index: usize, node: Node<'_>) -> Result<RawTuple, EntryError> {
    let elements = match node {
        Node::Array(items) => items,
        Node::Object(members) => keyed_elements(members).ok_or(EntryError::TupleNotArray {
            tuple: index,
            found: "object",
        })?,
        other => {
            return Err(EntryError::TupleNotArray {
                tuple: index,
                found: other.kind(),
            });
        }
    };
    let len = elements.len();
    let nums = elements
        .into_iter()
        .enumerate()
        .map(|(element, node)| {
            numeric(&node).ok_or_else(|| EntryError::ElementNotNumeric {
                tuple: index,
                element,
                found: describe(&node),
            })
        })
        .collect::<Result<Vec<Num>, EntryError>>()?;
    RawTuple::new(nums).ok_or(EntryError::TupleTooShort { tuple: index, len })
}

/// An object tuple `{"0": ts, "1": v}` as elements by key; `None` unless the keys are exactly
/// `"0"` … `"n-1"` (in any order; a repeated key leaves a gap, so it fails too).
fn keyed_elements<'de>(members: Vec<(Cow<'de, str>, Node<'de>)>) -> Option<Vec<Node<'de>>> {
    let n = members.len();
    let mut slots: Vec<Option<Node<'de>>> = vec![None; n];
    for (key, value) in members {
        // PHP turns only canonical decimal keys into integer keys: "1" yes, "01" or "+1" no.
        let canonical = !key.is_empty()
            && key.bytes().all(|b| b.is_ascii_digit())
            && (key == "0" || !key.starts_with('0'));
        if !canonical {
            return None;
        }
        let i: usize = key.parse().ok()?;
        *slots.get_mut(i)? = Some(value);
    }
    slots.into_iter().collect()
}

/// A JSON number, or a string PHP would accept as a whole as a number.
fn numeric(node: &Node<'_>) -> Option<Num> {
    match node {
        Node::Num(n) => Some(*n),
        Node::Str(s) => numeric_str(s),
        _ => None,
    }
}

/// PHP 8 numeric strings: surrounding whitespace allowed, decimal integer or float syntax.
/// Integers that overflow `i64` become floats; non-finite results are rejected.
fn numeric_str(s: &str) -> Option<Num> {
    let s = s.trim_matches([' ', '\t', '\n', '\r', '\u{b}', '\u{c}']);
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let frac_digits = frac_part.unwrap_or("");
    if !digits(int_part) || !digits(frac_digits) || (int_part.is_empty() && frac_digits.is_empty())
    {
        return None;
    }
    if let Some(exp) = exponent {
        let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        if exp.is_empty() || !digits(exp) {
            return None;
        }
    }
    if frac_part.is_none()
        && exponent.is_none()
        && let Ok(i) = s.parse::<i64>()
    {
        return Some(Num::Int(i));
    }
    let f: f64 = s.parse().ok()?;
    f.is_finite().then_some(Num::Float(f))
}

/// A short description of a non-numeric element for error messages.
fn describe(node: &Node<'_>) -> String {
    match node {
        Node::Str(s) => {
            let shown: String = s.chars().take(32).collect();
            let more = if shown.len() < s.len() { "…" } else { "" };
            format!("string {shown:?}{more}")
        }
        other => other.kind().to_owned(),
    }
}

/// The lenient UUID check volkszaehler applies before looking a channel up (spec 1.6).
///
/// After removing an optional `urn:uuid:` prefix (any case) and every non-hex character,
/// exactly 32 hex digits must remain; a string of exactly 16 bytes (a raw binary UUID) also
/// passes. The lookup then uses the original string. Parsing does not apply this check, so the
/// server decides how to report a bad UUID.
pub fn is_valid_uuid(s: &str) -> bool {
    if s.len() == 16 {
        return true;
    }
    const PREFIX: &str = "urn:uuid:";
    let rest = match s.get(..PREFIX.len()) {
        Some(head) if head.eq_ignore_ascii_case(PREFIX) => &s[PREFIX.len()..],
        _ => s,
    };
    rest.bytes().filter(u8::is_ascii_hexdigit).count() == 32
}

#[cfg(test)]
mod tests;
