//! The channels a run uses: read from a UUID file, created in push-server's database through
//! `middleware` (temperature sensors with resolution 1, so a pushed value arrives unchanged), or,
//! for nchan alone, made up.

use std::path::Path;

use anyhow::Context;
use middleware::{Db, NewEntity};

/// `count` channel UUIDs: the first lines of `uuid_file`; missing ones are created in `db` (and
/// appended to the file). Without a database, only the file counts.
///
/// # Errors
/// The file cannot be read or written, the database cannot be reached, or too few UUIDs are
/// available.
pub async fn ensure(
    db: Option<&str>,
    uuid_file: Option<&Path>,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let mut uuids: Vec<String> = match uuid_file {
        Some(path) if path.exists() => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    if uuids.len() < count {
        let url = db.with_context(|| {
            format!(
                "{} channels needed, {} in the UUID file, and no --db to create them",
                count,
                uuids.len()
            )
        })?;
        let db = Db::connect(url)
            .await
            .with_context(|| format!("opening {url}"))?;
        while uuids.len() < count {
            let entity = db
                .create_entity(&NewEntity {
                    kind: "temperature".into(),
                    uuid: None,
                    properties: vec![
                        ("title".into(), format!("load {}", uuids.len() + 1)),
                        ("resolution".into(), "1".into()),
                    ],
                })
                .await
                .context("creating a channel")?;
            uuids.push(entity.uuid);
        }
        db.close().await;
        if let Some(path) = uuid_file {
            std::fs::write(path, uuids.join("\n") + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    uuids.truncate(count);
    Ok(uuids)
}

/// Made-up UUID-shaped channel ids, for a run against nchan alone.
pub fn synthetic(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("00000000-0000-4000-8000-{i:012x}"))
        .collect()
}
