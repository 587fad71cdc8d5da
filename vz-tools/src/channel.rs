//! `vz-channel`: create, inspect, change and delete channels and groups.
//!
//! Every change is validated against the channel definitions before anything is written, so a
//! rejected command leaves the database exactly as it was.

use std::io::{self, Write};

use clap::Subcommand;
use middleware::{Db, Entity, NewEntity};

use crate::database::Access;
use push_core::definition::{self, EntityDefinition};

/// The `vz-channel` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Create a channel or group and print its UUID.
    Add {
        /// Entity type, e.g. power, "electric meter", temperature, group (see `vz-channel types`).
        #[arg(long = "type", value_name = "TYPE")]
        kind: String,
        /// Title shown in the frontend.
        #[arg(long)]
        title: String,
        /// Resolution (impulses or counter units per unit·h; divisor for sensors).
        #[arg(long)]
        resolution: Option<String>,
        /// Further properties as KEY=VALUE; repeatable.
        #[arg(long = "property", short = 'p', value_name = "KEY=VALUE", value_parser = parse_assignment)]
        properties: Vec<(String, String)>,
        /// Use this UUID instead of generating one.
        #[arg(long)]
        uuid: Option<String>,
    },
    /// List all channels and groups.
    List,
    /// Show one channel or group with its definition and properties.
    Show {
        /// The entity's UUID.
        uuid: String,
    },
    /// Set properties (all or none are applied).
    Set {
        /// The entity's UUID.
        uuid: String,
        /// KEY=VALUE pairs.
        #[arg(required = true, value_name = "KEY=VALUE", value_parser = parse_assignment)]
        assignments: Vec<(String, String)>,
    },
    /// Remove optional properties.
    Unset {
        /// The entity's UUID.
        uuid: String,
        /// Property keys.
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Delete a channel or group with its readings, aggregates, properties and memberships.
    Delete {
        /// The entity's UUID.
        uuid: String,
    },
    /// Put a channel or group into a group.
    Attach {
        /// The group's UUID.
        group: String,
        /// The member's UUID.
        child: String,
    },
    /// Take a member out of a group.
    Detach {
        /// The group's UUID.
        group: String,
        /// The member's UUID.
        child: String,
    },
    /// List the entity types with interpreter, unit and required properties.
    Types,
}

impl Command {
    /// Whether the command may create a SQLite file that does not exist: only `add`, which
    /// defines the first data of a new database; every other command reads or changes
    /// entities that must be there, so a missing file is a mistyped path.
    pub fn access(&self) -> Access {
        match self {
            Command::Add { .. } => Access::Create,
            _ => Access::Existing,
        }
    }
}

/// Why a `vz-channel` command failed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The database refused or could not do the change.
    #[error(transparent)]
    Database(#[from] middleware::Error),
    /// A property failed validation.
    #[error(transparent)]
    Property(#[from] push_core::property::PropertyError),
    /// `--type` is not one of the 38 definitions.
    #[error("unknown type '{0}' (see `vz-channel types`)")]
    UnknownType(String),
    /// `--uuid` is not a UUID.
    #[error("invalid UUID '{0}' (expected 8-4-4-4-12 hex digits)")]
    InvalidUuid(String),
    /// Writing the output failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn parse_assignment(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("expected KEY=VALUE, got '{text}'")),
    }
}

/// Runs one command, writing its normal output to `out`.
///
/// # Errors
/// Validation and database errors; nothing is changed when an error is returned.
pub async fn run(db: &Db, command: Command, out: &mut dyn Write) -> Result<(), ChannelError> {
    match command {
        Command::Add {
            kind,
            title,
            resolution,
            properties,
            uuid,
        } => {
            let mut all = vec![("title".to_owned(), title)];
            all.extend(resolution.map(|r| ("resolution".to_owned(), r)));
            all.extend(properties);
            add(db, kind, uuid, all, out).await
        }
        Command::List => list(db, out).await,
        Command::Show { uuid } => show(&db.entity(&uuid).await?, out),
        Command::Set { uuid, assignments } => set(db, &uuid, &assignments).await,
        Command::Unset { uuid, keys } => {
            for key in &keys {
                db.unset_property(&uuid, key).await?;
            }
            Ok(())
        }
        Command::Delete { uuid } => Ok(db.delete_entity(&uuid).await?),
        Command::Attach { group, child } => Ok(db.add_child(&group, &child).await?),
        Command::Detach { group, child } => Ok(db.remove_child(&group, &child).await?),
        Command::Types => print_types(out),
    }
}

async fn add(
    db: &Db,
    kind: String,
    uuid: Option<String>,
    properties: Vec<(String, String)>,
    out: &mut dyn Write,
) -> Result<(), ChannelError> {
    if definition::definition(&kind).is_none() {
        return Err(ChannelError::UnknownType(kind));
    }
    let uuid = uuid.map(|u| canonical_uuid(&u)).transpose()?;
    let entity = db
        .create_entity(&NewEntity {
            kind,
            uuid,
            properties,
        })
        .await?;
    writeln!(out, "{}", entity.uuid)?;
    Ok(())
}

/// Accepts any UUID spelling and stores the lowercase hyphenated form the frontend expects.
fn canonical_uuid(text: &str) -> Result<String, ChannelError> {
    uuid::Uuid::parse_str(text)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| ChannelError::InvalidUuid(text.to_owned()))
}

async fn set(db: &Db, uuid: &str, assignments: &[(String, String)]) -> Result<(), ChannelError> {
    let entity = db.entity(uuid).await?;
    // Validate every assignment first so that a bad one leaves all properties untouched.
    if let Some(def) = entity.definition() {
        for (key, value) in assignments {
            def.validate_property(key, value)?;
        }
    }
    for (key, value) in assignments {
        db.set_property(uuid, key, value).await?;
    }
    Ok(())
}

async fn list(db: &Db, out: &mut dyn Write) -> Result<(), ChannelError> {
    let entities = db.entities().await?;
    writeln!(out, "{:<36}  {:<18}  TITLE", "UUID", "TYPE")?;
    for entity in &entities {
        writeln!(
            out,
            "{:<36}  {:<18}  {}",
            entity.uuid,
            entity.kind,
            entity.title().unwrap_or("")
        )?;
    }
    Ok(())
}

fn show(entity: &Entity, out: &mut dyn Write) -> Result<(), ChannelError> {
    let def = entity.definition();
    let row = |out: &mut dyn Write, key: &str, value: &str| writeln!(out, "{key:<12} {value}");
    row(out, "uuid", &entity.uuid)?;
    row(out, "type", &entity.kind)?;
    row(out, "class", &entity.class)?;
    if let Some(def) = def {
        row(out, "interpreter", &interpreter_name(def))?;
        let unit = def
            .unit()
            .or_else(|| entity.properties.get("unit").map(String::as_str));
        row(out, "unit", unit.unwrap_or("-"))?;
        row(out, "scale", &push_core::number::format_f64(def.scale()))?;
    }
    match entity.properties.get("resolution") {
        Some(resolution) => row(out, "resolution", resolution)?,
        None => row(out, "resolution", "1 (default)")?,
    }
    for (key, value) in &entity.properties {
        if key != "resolution" {
            row(out, key, value)?;
        }
    }
    Ok(())
}

fn interpreter_name(def: &EntityDefinition) -> String {
    format!("{:?}", def.interpreter()).to_lowercase()
}

/// Prints the 38 entity types; needs no database.
///
/// # Errors
/// When writing to `out` fails.
pub fn print_types(out: &mut dyn Write) -> Result<(), ChannelError> {
    writeln!(
        out,
        "{:<20} {:<12} {:<6} {:>5}  REQUIRED",
        "TYPE", "INTERPRETER", "UNIT", "SCALE"
    )?;
    for def in definition::definitions() {
        writeln!(
            out,
            "{:<20} {:<12} {:<6} {:>5}  {}",
            def.name(),
            interpreter_name(def),
            def.unit().unwrap_or("(prop)"),
            push_core::number::format_f64(def.scale()),
            def.required().join(", "),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{canonical_uuid, parse_assignment};

    #[test]
    fn assignments_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_assignment("rule=a=b"),
            Ok(("rule".into(), "a=b".into()))
        );
        assert_eq!(
            parse_assignment("color="),
            Ok(("color".into(), String::new()))
        );
        assert!(parse_assignment("=x").is_err());
        assert!(parse_assignment("novalue").is_err());
    }

    #[test]
    fn uuids_are_stored_lowercase_hyphenated() {
        assert_eq!(
            canonical_uuid("13DF0000097B11EBA092174646E1882D").unwrap(),
            "13df0000-097b-11eb-a092-174646e1882d"
        );
        assert!(canonical_uuid("not-a-uuid").is_err());
    }
}
