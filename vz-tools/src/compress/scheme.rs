//! Compression schemes: which window each age of data is thinned to (tools-and-schema §3.1).
//!
//! vzcompress2 kept its scheme in PHP source; ours is YAML, either the `compress:` section of a
//! volkszaehler `config.yaml` or a file of its own (`--scheme`):
//!
//! ```yaml
//! compress:
//!   default:                      # every channel without a scheme of its own
//!     - {older_than: 7d, window: 1m}
//!     - {older_than: 30d, window: 5m}
//!   channels:                     # schemes per channel UUID
//!     13df0000-097b-11eb-a092-174646e1882d:
//!       - {older_than: 1d, window: 15m}
//! ```
//!
//! A duration is a number of seconds or a number with a unit: `s`, `m`/`min`, `h`, `d`, `w`,
//! `y` (365 days). A window of 0 keeps the data of that age as it is. vzcompress2's form, a map
//! from age in seconds to window in seconds (`{604800: 60, 2592000: 300}`), is accepted too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

/// Why a scheme could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemeError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not YAML.
    #[error("{}: {source}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_yaml::Error,
    },
    /// The YAML does not describe a scheme.
    #[error("{}: {what}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key.
        what: String,
    },
}

/// One tier: data older than `older_than` is thinned to one reading per `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tier {
    /// Minimum age in ms.
    pub older_than: i64,
    /// Window length in ms; 0 keeps data of this age unchanged.
    pub window: i64,
}

/// A channel's tiers, youngest first, ages distinct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheme {
    /// Sorted by `older_than`, ascending.
    tiers: Vec<Tier>,
}

impl Scheme {
    /// A scheme from tiers in any order.
    ///
    /// # Errors
    ///
    /// A message if two tiers have the same age.
    pub fn new(mut tiers: Vec<Tier>) -> Result<Scheme, String> {
        tiers.sort_by_key(|tier| tier.older_than);
        if let Some(pair) = tiers
            .windows(2)
            .find(|pair| pair[0].older_than == pair[1].older_than)
        {
            return Err(format!(
                "two tiers for data older than {}",
                format_duration(pair[0].older_than)
            ));
        }
        Ok(Scheme { tiers })
    }

    /// vzcompress2's default (§3.1): 1 min after 7 days, 5 min after 30 days, 15 min after
    /// 180 days, 30 min after 365 days.
    pub fn vzcompress2_default() -> Scheme {
        let day = 86_400_000;
        let tier = |days: i64, minutes: i64| Tier {
            older_than: days * day,
            window: minutes * 60_000,
        };
        Scheme {
            tiers: vec![tier(7, 1), tier(30, 5), tier(180, 15), tier(365, 30)],
        }
    }

    /// The tiers, youngest first.
    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }
}

/// The default scheme and the per-channel ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schemes {
    /// For every channel without its own.
    pub default: Scheme,
    /// By lowercase UUID.
    pub channels: BTreeMap<String, Scheme>,
}

impl Default for Schemes {
    fn default() -> Schemes {
        Schemes {
            default: Scheme::vzcompress2_default(),
            channels: BTreeMap::new(),
        }
    }
}

impl Schemes {
    /// The scheme for a channel.
    pub fn for_channel(&self, uuid: &str) -> &Scheme {
        self.channels
            .get(&uuid.to_ascii_lowercase())
            .unwrap_or(&self.default)
    }

    /// Reads the schemes: from `scheme_file` if given, else from the `compress:` section of
    /// `config_file` if it has one, else vzcompress2's default.
    ///
    /// # Errors
    ///
    /// When a file cannot be read or does not describe schemes.
    pub fn load(
        scheme_file: Option<&Path>,
        config_file: Option<&Path>,
    ) -> Result<Schemes, SchemeError> {
        if let Some(path) = scheme_file {
            let root = read_yaml(path)?;
            let section = match root.get("compress") {
                Some(section) => section.clone(),
                None => root,
            };
            return Schemes::from_value(&section).map_err(|what| invalid(path, what));
        }
        if let Some(path) = config_file
            && let Some(section) = read_yaml(path)?.get("compress")
        {
            return Schemes::from_value(section)
                .map_err(|what| invalid(path, format!("compress: {what}")));
        }
        Ok(Schemes::default())
    }

    /// The schemes from the YAML of a `compress:` section.
    ///
    /// # Errors
    ///
    /// A message naming the offending key.
    pub fn from_value(section: &Value) -> Result<Schemes, String> {
        let mut schemes = Schemes::default();
        if section.is_null() {
            return Ok(schemes);
        }
        let Some(map) = section.as_mapping() else {
            return Err("expected a map with `default` and/or `channels`".into());
        };
        for (key, value) in map {
            match key.as_str() {
                Some("default") => {
                    schemes.default = scheme(value).map_err(|what| format!("default: {what}"))?;
                }
                Some("channels") => {
                    let Some(channels) = value.as_mapping() else {
                        return Err("channels: expected a map from channel UUID to scheme".into());
                    };
                    for (uuid, value) in channels {
                        let uuid = uuid
                            .as_str()
                            .ok_or("channels: keys must be channel UUIDs")?
                            .trim()
                            .to_ascii_lowercase();
                        let scheme = scheme(value).map_err(|what| format!("{uuid}: {what}"))?;
                        schemes.channels.insert(uuid, scheme);
                    }
                }
                _ => {
                    return Err(format!(
                        "unknown key {}; expected `default` or `channels`",
                        text(key)
                    ));
                }
            }
        }
        Ok(schemes)
    }
}

/// A scheme: a list of `{older_than, window}` tiers, or vzcompress2's map age → window.
fn scheme(value: &Value) -> Result<Scheme, String> {
    let tiers = match value {
        Value::Sequence(items) => items
            .iter()
            .map(|item| {
                let get = |key: &str| {
                    item.get(key)
                        .ok_or_else(|| format!("each tier needs `{key}`"))
                        .and_then(duration)
                };
                Ok(Tier {
                    older_than: get("older_than")?,
                    window: get("window")?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?,
        Value::Mapping(map) => map
            .iter()
            .map(|(age, window)| {
                Ok(Tier {
                    older_than: duration(age)?,
                    window: duration(window)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?,
        _ => return Err("expected a list of {older_than, window} tiers".into()),
    };
    Scheme::new(tiers)
}

/// A duration in ms from a number of seconds or a text like `7d`.
fn duration(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(number) => number
            .as_i64()
            .filter(|seconds| *seconds >= 0)
            .and_then(|seconds| seconds.checked_mul(1000))
            .ok_or_else(|| format!("invalid duration {number}: expected whole seconds ≥ 0")),
        Value::String(text) => parse_duration(text),
        other => Err(format!("invalid duration {}", text(other))),
    }
}

/// Parses `90`, `90s`, `1m`, `5min`, `2h`, `7d`, `1w`, `1y` into ms.
///
/// # Errors
///
/// A message quoting the text.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let seconds: i64 = match unit.trim() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => 0,
    };
    digits
        .parse::<i64>()
        .ok()
        .filter(|_| seconds > 0)
        .and_then(|n| n.checked_mul(seconds)?.checked_mul(1000))
        .ok_or_else(|| {
            format!("invalid duration {text:?}: expected e.g. 90s, 1m, 2h, 7d, 1w, 1y or seconds")
        })
}

/// A duration in ms in the largest unit that divides it (`7d`, `90s`).
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0".into();
    }
    if ms % 1000 != 0 {
        return format!("{ms}ms");
    }
    let seconds = ms / 1000;
    for (unit, size) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if seconds % size == 0 {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

/// A YAML value as it would be written, for messages.
fn text(value: &Value) -> String {
    serde_yaml::to_string(value)
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|_| "?".into())
}

/// Reads and parses a YAML file.
fn read_yaml(path: &Path) -> Result<Value, SchemeError> {
    let text = std::fs::read_to_string(path).map_err(|source| SchemeError::Read {
        path: path.to_owned(),
        source,
    })?;
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_yaml::from_str(&text).map_err(|source| SchemeError::Yaml {
        path: path.to_owned(),
        source,
    })
}

/// A [`SchemeError::Invalid`].
fn invalid(path: &Path, what: String) -> SchemeError {
    SchemeError::Invalid {
        path: path.to_owned(),
        what,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemes(yaml: &str) -> Result<Schemes, String> {
        Schemes::from_value(&serde_yaml::from_str(yaml).unwrap())
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90"), Ok(90_000));
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("1m"), Ok(60_000));
        assert_eq!(parse_duration("5min"), Ok(300_000));
        assert_eq!(parse_duration("2h"), Ok(7_200_000));
        assert_eq!(parse_duration(" 7d "), Ok(604_800_000));
        assert_eq!(parse_duration("1w"), Ok(604_800_000));
        assert_eq!(parse_duration("1y"), Ok(31_536_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        for bad in ["", "d", "1.5d", "7 days", "-1", "1mo"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(604_800_000), "1w");
        assert_eq!(format_duration(2_592_000_000), "30d");
        assert_eq!(format_duration(90_000), "90s");
        assert_eq!(format_duration(300_000), "5m");
    }

    #[test]
    fn reads_default_and_channel_schemes() {
        let schemes = schemes(
            "
default:
  - {older_than: 30d, window: 5m}
  - {older_than: 7d, window: 1m}
channels:
  AB000000-0000-0000-0000-000000000000:
    - {older_than: 1d, window: 0}
",
        )
        .unwrap();
        assert_eq!(
            schemes.default.tiers(),
            [
                Tier {
                    older_than: 604_800_000,
                    window: 60_000
                },
                Tier {
                    older_than: 2_592_000_000,
                    window: 300_000
                }
            ]
        );
        let own = schemes.for_channel("ab000000-0000-0000-0000-000000000000");
        assert_eq!(own.tiers()[0].window, 0);
        assert_eq!(schemes.for_channel("other"), &schemes.default);
    }

    #[test]
    fn reads_the_vzcompress2_map_form() {
        let php =
            schemes("default: {604800: 60, 2592000: 300, 15552000: 900, 31536000: 1800}").unwrap();
        assert_eq!(php.default, Scheme::vzcompress2_default());
        assert_eq!(schemes("").unwrap(), Schemes::default());
    }

    #[test]
    fn bad_schemes_are_named() {
        assert!(
            schemes("default: [{older_than: 7d}]")
                .unwrap_err()
                .contains("`window`")
        );
        assert!(
            schemes("defaults: []")
                .unwrap_err()
                .contains("unknown key defaults")
        );
        assert!(
            schemes("default: [{older_than: 7d, window: 1m}, {older_than: 1w, window: 5m}]")
                .unwrap_err()
                .contains("two tiers")
        );
        assert!(schemes("channels: {x: 5}").unwrap_err().starts_with("x:"));
    }
}
