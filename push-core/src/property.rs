//! The 32 channel property definitions and how a property value is validated and stored.
//!
//! The definitions are read from the embedded `data/entity-definitions.json` (the exact body of
//! volkszaehler's `capabilities/definitions.json`), never retyped, so the API we serve and the
//! rules we enforce cannot drift apart. Validation follows volkszaehler's rules (spec 3.3):
//! patterns, byte lengths, PHP `filter_var` number and boolean syntax, inclusive bounds and
//! option lists.

mod filter;
mod pattern;
mod words;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::number;
use pattern::Pattern;

/// The value kind of a property, as named in the definitions file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PropertyType {
    /// One-line text, optionally restricted by a pattern and a byte length.
    String,
    /// Free text (`description`).
    Text,
    /// An integer in PHP `FILTER_VALIDATE_INT` syntax.
    Integer,
    /// A number in PHP `FILTER_VALIDATE_FLOAT` syntax.
    Float,
    /// A boolean in PHP `FILTER_VALIDATE_BOOLEAN` syntax (`1`, `true`, `on`, `yes`, …).
    Boolean,
    /// Exactly one of a fixed list of strings (`style`, `yaxis`, …).
    Multiple,
}

/// A validated property value, typed by its definition.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyValue {
    /// From `string`, `text` and `multiple` properties.
    String(String),
    /// From `integer` properties.
    Integer(i64),
    /// From `float` properties.
    Float(f64),
    /// From `boolean` properties.
    Boolean(bool),
}

impl PropertyValue {
    /// The text stored in `properties.value`.
    ///
    /// The column is text in every schema variant; volkszaehler reads it back by casting to the
    /// declared type, so booleans are `"1"`/`"0"`, integers decimal, floats in PHP's number
    /// format (`1000`, not `1000.0`) and strings unchanged.
    pub fn to_db(&self) -> String {
        match self {
            PropertyValue::String(s) => s.clone(),
            PropertyValue::Integer(i) => i.to_string(),
            PropertyValue::Float(f) => number::format_f64(*f),
            PropertyValue::Boolean(b) => if *b { "1" } else { "0" }.to_owned(),
        }
    }
}

/// Why a property could not be set or an entity's properties are incomplete.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum PropertyError {
    /// No property of this name is defined.
    #[error("unknown property '{key}'")]
    Unknown {
        /// The key as given.
        key: String,
    },
    /// The property exists but the entity type does not accept it.
    #[error("property '{key}' is not allowed for entity type '{entity_type}'")]
    NotAllowed {
        /// The key as given.
        key: String,
        /// The entity type's name, e.g. `power`.
        entity_type: String,
    },
    /// The value does not satisfy the property's definition.
    #[error("invalid value {value:?} for property '{key}': {key} {reason}")]
    Invalid {
        /// The property name.
        key: String,
        /// The rejected value as given.
        value: String,
        /// What is wrong, phrased to follow the key (e.g. "must be at least 0.000001").
        reason: String,
    },
    /// Required properties are absent.
    #[error("entity type '{entity_type}' requires the properties: {}", keys.join(", "))]
    MissingRequired {
        /// The entity type's name.
        entity_type: String,
        /// Every missing key, in the definition's order.
        keys: Vec<String>,
    },
}

/// One property definition (name, kind and the constraints on its values).
#[derive(Debug, Clone)]
pub struct PropertyDefinition {
    name: String,
    kind: PropertyType,
    pattern: Option<Pattern>,
    /// Byte length bounds for strings, value bounds for numbers.
    min: Option<f64>,
    max: Option<f64>,
    options: Vec<String>,
    translation: BTreeMap<String, String>,
}

impl PropertyDefinition {
    /// The property key, e.g. `resolution`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value kind.
    pub fn kind(&self) -> PropertyType {
        self.kind
    }

    /// The allowed values of a `multiple` property (empty otherwise).
    pub fn options(&self) -> &[String] {
        &self.options
    }

    /// Lower bound: the minimum byte length for strings, the minimum value for numbers.
    pub fn min(&self) -> Option<f64> {
        self.min
    }

    /// Upper bound: the maximum byte length for strings, the maximum value for numbers.
    pub fn max(&self) -> Option<f64> {
        self.max
    }

    /// The PHP pattern a string value must match, as written in the definitions.
    pub fn pattern(&self) -> Option<&str> {
        self.pattern.as_ref().map(Pattern::source)
    }

    /// The property's label in `lang` (`de`, `en`, …), if translated.
    pub fn translation(&self, lang: &str) -> Option<&str> {
        self.translation.get(lang).map(String::as_str)
    }

    /// Validates a raw (textual) value and returns it typed.
    ///
    /// # Errors
    /// [`PropertyError::Invalid`] naming the key, the value and the violated rule.
    pub fn validate(&self, raw: &str) -> Result<PropertyValue, PropertyError> {
        let invalid = |reason: String| PropertyError::Invalid {
            key: self.name.clone(),
            value: raw.to_owned(),
            reason,
        };
        match self.kind {
            PropertyType::String | PropertyType::Text => {
                if let Some(pattern) = &self.pattern
                    && !pattern.is_match(raw)
                {
                    // In words where we have them; the regex only for a pattern we do not know.
                    let reason = words::describe(pattern.source())
                        .map_or_else(|| format!("must match {}", pattern.source()), str::to_owned);
                    return Err(invalid(reason));
                }
                let len = raw.len() as f64;
                if let Some(min) = self.min.filter(|&min| len < min) {
                    return Err(invalid(format!("must be at least {min} bytes long")));
                }
                if let Some(max) = self.max.filter(|&max| len > max) {
                    return Err(invalid(format!("must be at most {max} bytes long")));
                }
                Ok(PropertyValue::String(raw.to_owned()))
            }
            PropertyType::Integer => {
                let value = filter::int(raw).ok_or_else(|| invalid("must be an integer".into()))?;
                self.check_bounds(value as f64).map_err(invalid)?;
                Ok(PropertyValue::Integer(value))
            }
            PropertyType::Float => {
                let value = filter::float(raw).ok_or_else(|| invalid("must be a number".into()))?;
                self.check_bounds(value).map_err(invalid)?;
                Ok(PropertyValue::Float(value))
            }
            PropertyType::Boolean => {
                filter::boolean(raw)
                    .map(PropertyValue::Boolean)
                    .ok_or_else(|| {
                        invalid("must be a boolean (1/0, true/false, on/off, yes/no)".into())
                    })
            }
            PropertyType::Multiple => {
                if self.options.iter().any(|o| o == raw) {
                    Ok(PropertyValue::String(raw.to_owned()))
                } else if self.options.len() <= 10 {
                    Err(invalid(format!(
                        "must be one of {}",
                        self.options.join(", ")
                    )))
                } else {
                    let n = self.options.len();
                    Err(invalid(format!("must be one of the {n} listed options")))
                }
            }
        }
    }

    /// Inclusive numeric bounds; the error is the reason text.
    fn check_bounds(&self, value: f64) -> Result<(), String> {
        if let Some(min) = self.min.filter(|&min| value < min) {
            return Err(format!("must be at least {min}"));
        }
        if let Some(max) = self.max.filter(|&max| value > max) {
            return Err(format!("must be at most {max}"));
        }
        Ok(())
    }
}

/// All property definitions, in file order.
pub fn property_definitions() -> &'static [PropertyDefinition] {
    &PROPERTIES
}

/// The definition of the property `name` (exact, case-sensitive match).
pub fn property_definition(name: &str) -> Option<&'static PropertyDefinition> {
    PROPERTIES.iter().find(|p| p.name == name)
}

/// The embedded definitions file, shared with [`crate::definition`].
pub(crate) const DEFINITIONS_JSON: &str = include_str!("../data/entity-definitions.json");

static PROPERTIES: LazyLock<Vec<PropertyDefinition>> = LazyLock::new(|| {
    // The file is embedded and covered by the tests below, so failing here is a build defect.
    load(DEFINITIONS_JSON).expect("embedded property definitions are valid")
});

#[derive(Deserialize)]
struct RawFile {
    capabilities: RawCapabilities,
}

#[derive(Deserialize)]
struct RawCapabilities {
    definitions: RawDefinitions,
}

#[derive(Deserialize)]
struct RawDefinitions {
    properties: Vec<RawProperty>,
}

#[derive(Deserialize)]
struct RawProperty {
    name: String,
    #[serde(rename = "type")]
    kind: PropertyType,
    #[serde(default)]
    translation: BTreeMap<String, String>,
    pattern: Option<String>,
    min: Option<f64>,
    max: Option<f64>,
    #[serde(default)]
    options: Vec<String>,
}

fn load(json: &str) -> Result<Vec<PropertyDefinition>, String> {
    let file: RawFile = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mut out: Vec<PropertyDefinition> = Vec::new();
    for raw in file.capabilities.definitions.properties {
        let pattern = match &raw.pattern {
            Some(p) => Some(Pattern::from_php(p).map_err(|e| e.to_string())?),
            None => None,
        };
        let def = PropertyDefinition {
            name: raw.name,
            kind: raw.kind,
            pattern,
            min: raw.min,
            max: raw.max,
            options: raw.options,
            translation: raw.translation,
        };
        // Upstream defines `in1` twice; as in PHP's keyed array the later entry wins.
        match out.iter_mut().find(|p| p.name == def.name) {
            Some(existing) => *existing = def,
            None => out.push(def),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
