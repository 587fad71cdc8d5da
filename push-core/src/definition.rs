//! The 38 entity (channel and group) types: how each converts readings and which properties it takes.
//!
//! Read from the embedded `data/entity-definitions.json`, never retyped. The property lists are
//! exposed as volkszaehler *enforces* them (spec 3.1): `title` is always required, and every type
//! accepts a base list chosen by its model, plus `initialconsumption` and `cost` when it has a
//! consumption. The file already lists the merged form, but we merge again (dropping repeats) so the
//! rules hold whichever form the file uses.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::property::{self, PropertyError, PropertyValue};

/// How raw readings of a type become values (volkszaehler's interpreter classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interpreter {
    /// Groups (`group`, `building`, `user`): no readings of their own; pushing to one is an error.
    Aggregator,
    /// Impulse counts since the previous reading (S0 meters).
    Impulse,
    /// Absolute meter readings; the value is the rate of change.
    Accumulator,
    /// Instantaneous values, divided by the resolution.
    Sensor,
    /// Virtual channels: readings pass through unchanged.
    Virtual,
}

/// Which database entity an entity type is stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    /// A channel holding readings.
    Channel,
    /// A group of channels and groups.
    Aggregator,
}

impl Model {
    /// The discriminator in `entities.class`.
    pub fn class(self) -> &'static str {
        match self {
            Model::Channel => "channel",
            Model::Aggregator => "aggregator",
        }
    }
}

/// Properties every channel type accepts (spec 3.1). `address:` is literal: upstream compares keys
/// exactly, so no real `address:*` property matches it.
const CHANNEL_BASE: [&str; 13] = [
    "public",
    "active",
    "color",
    "style",
    "fillstyle",
    "linestyle",
    "linewidth",
    "yaxis",
    "description",
    "owner",
    "address:",
    "link",
    "gap",
];
/// Extra properties of channel types with `hasConsumption`.
const CONSUMPTION_EXTRA: [&str; 2] = ["initialconsumption", "cost"];
/// Properties every group type accepts.
const AGGREGATOR_BASE: [&str; 7] = [
    "public",
    "active",
    "color",
    "description",
    "owner",
    "address:",
    "link",
];

/// One entity type, e.g. `power` or `group`.
#[derive(Debug, Clone)]
pub struct EntityDefinition {
    name: String,
    interpreter: Interpreter,
    model: Model,
    unit: Option<String>,
    scale: f64,
    has_consumption: bool,
    style: Option<String>,
    icon: String,
    translation: BTreeMap<String, String>,
    /// Effective lists (spec 3.1), without repeats.
    required: Vec<String>,
    optional: Vec<String>,
}

impl EntityDefinition {
    /// The type name as stored in `entities.type`, e.g. `electric meter`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How readings are converted.
    pub fn interpreter(&self) -> Interpreter {
        self.interpreter
    }

    /// Channel or group.
    pub fn model(&self) -> Model {
        self.model
    }

    /// The `entities.class` discriminator: `"channel"` or `"aggregator"`.
    pub fn class(&self) -> &'static str {
        self.model.class()
    }

    /// The value unit; `None` where the channel's `unit` property supplies it (universal and
    /// virtual types, groups). Some types have an empty unit (`Some("")`).
    pub fn unit(&self) -> Option<&str> {
        self.unit.as_deref()
    }

    /// Unit prefix factor applied by impulse and accumulator conversion (1000 for W-based types).
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Whether consumption (the integral) is meaningful; adds `initialconsumption` and `cost`.
    pub fn has_consumption(&self) -> bool {
        self.has_consumption
    }

    /// The frontend's default plot style, if the type suggests one.
    pub fn style(&self) -> Option<&str> {
        self.style.as_deref()
    }

    /// The frontend's icon file name (may be empty).
    pub fn icon(&self) -> &str {
        &self.icon
    }

    /// The type's label in `lang` (`de`, `en`, `fr`), if translated.
    pub fn translation(&self, lang: &str) -> Option<&str> {
        self.translation.get(lang).map(String::as_str)
    }

    /// Properties an entity of this type must have; always starts with `title`.
    pub fn required(&self) -> &[String] {
        &self.required
    }

    /// Properties an entity of this type may have besides the required ones.
    pub fn optional(&self) -> &[String] {
        &self.optional
    }

    /// Whether `key` may be set on this type (exact comparison, so `address:lat` is not allowed:
    /// only the literal `address:` is listed, as upstream).
    pub fn allows(&self, key: &str) -> bool {
        self.required.iter().chain(&self.optional).any(|k| k == key)
    }

    /// Validates setting property `key` to `value` on an entity of this type.
    ///
    /// # Errors
    /// [`PropertyError::Unknown`] when no such property is defined (this also covers the listed
    /// but undefined `address:`), [`PropertyError::NotAllowed`] when this type does not take
    /// it, [`PropertyError::Invalid`] when the value is rejected.
    pub fn validate_property(
        &self,
        key: &str,
        value: &str,
    ) -> Result<PropertyValue, PropertyError> {
        let def = property::property_definition(key).ok_or_else(|| PropertyError::Unknown {
            key: key.to_owned(),
        })?;
        if !self.allows(key) {
            return Err(PropertyError::NotAllowed {
                key: key.to_owned(),
                entity_type: self.name.clone(),
            });
        }
        def.validate(value)
    }

    /// Checks that `keys` (the properties an entity has) include every required one.
    ///
    /// # Errors
    /// [`PropertyError::MissingRequired`] listing every missing key in definition order.
    pub fn check_required<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), PropertyError> {
        let present: Vec<&str> = keys.into_iter().collect();
        let missing: Vec<String> = self
            .required
            .iter()
            .filter(|k| !present.contains(&k.as_str()))
            .cloned()
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(PropertyError::MissingRequired {
                entity_type: self.name.clone(),
                keys: missing,
            })
        }
    }
}

/// All 38 entity types in file order (groups first, as in volkszaehler's capabilities).
pub fn definitions() -> &'static [EntityDefinition] {
    &ENTITIES
}

/// The entity type called `name` (exact match, e.g. `"electric meter"`).
pub fn definition(name: &str) -> Option<&'static EntityDefinition> {
    ENTITIES.iter().find(|e| e.name == name)
}

static ENTITIES: LazyLock<Vec<EntityDefinition>> = LazyLock::new(|| {
    // The file is embedded and covered by the tests, so failing here is a build defect.
    load(property::DEFINITIONS_JSON).expect("embedded entity definitions are valid")
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
    entities: Vec<RawEntity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntity {
    name: String,
    #[serde(default)]
    translation: BTreeMap<String, String>,
    #[serde(default)]
    required: Vec<String>,
    #[serde(default)]
    optional: Vec<String>,
    interpreter: String,
    model: String,
    style: Option<String>,
    unit: Option<String>,
    #[serde(default)]
    icon: String,
    #[serde(default)]
    has_consumption: bool,
    #[serde(default = "default_scale")]
    scale: f64,
}

fn default_scale() -> f64 {
    1.0
}

fn load(json: &str) -> Result<Vec<EntityDefinition>, String> {
    let file: RawFile = serde_json::from_str(json).map_err(|e| e.to_string())?;
    file.capabilities
        .definitions
        .entities
        .into_iter()
        .map(EntityDefinition::from_raw)
        .collect()
}

impl EntityDefinition {
    fn from_raw(raw: RawEntity) -> Result<EntityDefinition, String> {
        let interpreter = match short_class(&raw.interpreter) {
            "AggregatorInterpreter" => Interpreter::Aggregator,
            "ImpulseInterpreter" => Interpreter::Impulse,
            "AccumulatorInterpreter" => Interpreter::Accumulator,
            "SensorInterpreter" => Interpreter::Sensor,
            "VirtualInterpreter" => Interpreter::Virtual,
            other => return Err(format!("{}: unknown interpreter {other}", raw.name)),
        };
        let model = match short_class(&raw.model) {
            "Channel" => Model::Channel,
            "Aggregator" => Model::Aggregator,
            other => return Err(format!("{}: unknown model {other}", raw.name)),
        };
        let base: &[&str] = match model {
            Model::Channel => &CHANNEL_BASE,
            Model::Aggregator => &AGGREGATOR_BASE,
        };
        let consumption: &[&str] = if raw.has_consumption && model == Model::Channel {
            &CONSUMPTION_EXTRA
        } else {
            &[]
        };
        let required = merged(
            ["title"]
                .into_iter()
                .chain(raw.required.iter().map(String::as_str)),
        );
        let optional = merged(
            base.iter()
                .chain(consumption)
                .copied()
                .chain(raw.optional.iter().map(String::as_str)),
        );
        Ok(EntityDefinition {
            name: raw.name,
            interpreter,
            model,
            unit: raw.unit,
            scale: raw.scale,
            has_consumption: raw.has_consumption,
            style: raw.style,
            icon: raw.icon,
            translation: raw.translation,
            required,
            optional,
        })
    }
}

/// `Volkszaehler\Interpreter\ImpulseInterpreter` → `ImpulseInterpreter`.
fn short_class(fqcn: &str) -> &str {
    fqcn.rsplit('\\').next().unwrap_or(fqcn)
}

/// Keys in first-seen order without repeats (upstream lists `gap` twice for `workinghours`).
fn merged<'a>(keys: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in keys {
        if !out.iter().any(|k| k == key) {
            out.push(key.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests;
