//! Channels and groups: the `entities`, `properties` and `entities_in_aggregator` tables.

use std::collections::{BTreeMap, HashMap};

use push_core::definition::{self, EntityDefinition, Model};
use sqlx::{AnyConnection, Row as _};

use super::Db;
use crate::{Error, Result};

/// A channel or group with its properties.
#[derive(Clone, Debug, PartialEq)]
pub struct Entity {
    /// `entities.id`; the `channel_id` of its readings.
    pub id: i32,
    /// The public identifier, lowercase and hyphenated.
    pub uuid: String,
    /// The entity type (`entities.type`), e.g. `power` or `electric meter`.
    pub kind: String,
    /// `channel` or `aggregator` (a group).
    pub class: String,
    /// Property values as stored (text; booleans as `0`/`1`).
    pub properties: BTreeMap<String, String>,
}

impl Entity {
    /// The definition of the entity's type; `None` if the database holds an unknown type.
    pub fn definition(&self) -> Option<&'static EntityDefinition> {
        definition::definition(&self.kind)
    }

    /// The `resolution` property as a number, if set and numeric.
    pub fn resolution(&self) -> Option<f64> {
        self.properties.get("resolution")?.trim().parse().ok()
    }

    /// The `title` property, if set.
    pub fn title(&self) -> Option<&str> {
        self.properties.get("title").map(String::as_str)
    }

    /// Whether the entity is a group (class `aggregator`).
    pub fn is_group(&self) -> bool {
        self.class == Model::Aggregator.class()
    }
}

/// What [`Db::create_entity`] needs to create an entity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewEntity {
    /// The entity type, e.g. `power`; must be one of the definitions.
    pub kind: String,
    /// The UUID to use (any form the `uuid` crate parses; stored lowercase and hyphenated), or
    /// `None` for a fresh random (v4) one.
    pub uuid: Option<String>,
    /// Property keys and raw values; when a key repeats, the last value counts.
    pub properties: Vec<(String, String)>,
}

/// The `entities` row of an entity, without properties.
pub(super) struct Header {
    /// `entities.id`.
    pub(super) id: i32,
    /// `entities.uuid` as stored (MySQL compares it case-insensitively, so it may differ in
    /// case from the UUID looked up).
    pub(super) uuid: String,
    /// `entities.type`.
    pub(super) kind: String,
    /// `entities.class`.
    pub(super) class: String,
}

impl Header {
    /// The definition of the entity's type.
    fn definition(&self) -> Result<&'static EntityDefinition> {
        definition::definition(&self.kind).ok_or_else(|| Error::UnknownType {
            kind: self.kind.clone(),
        })
    }
}

impl Db {
    /// Creates an entity with its properties in one transaction.
    ///
    /// The type must be known, every property valid for it and every required property
    /// present. Values are stored in volkszaehler's text form (`PropertyValue::to_db`).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownType`], [`Error::Property`] (unknown, not allowed, invalid or missing
    /// required property), [`Error::InvalidUuid`], [`Error::DuplicateUuid`]; nothing is
    /// written then. [`Error::Database`] if a statement fails.
    pub async fn create_entity(&self, new: &NewEntity) -> Result<Entity> {
        let def = definition::definition(&new.kind).ok_or_else(|| Error::UnknownType {
            kind: new.kind.clone(),
        })?;
        let mut properties = BTreeMap::new();
        for (key, value) in &new.properties {
            properties.insert(key.clone(), def.validate_property(key, value)?.to_db());
        }
        def.check_required(properties.keys().map(String::as_str))?;
        let uuid = match &new.uuid {
            Some(uuid) => canonical_uuid(uuid)?,
            None => uuid::Uuid::new_v4().hyphenated().to_string(),
        };

        let mut tx = self.begin_write().await?;
        if self.header(&mut tx, &uuid).await?.is_some() {
            return Err(Error::DuplicateUuid { uuid });
        }
        sqlx::query(self.dialect.insert_entity())
            .bind(uuid.as_str())
            .bind(def.name())
            .bind(def.class())
            .execute(&mut *tx)
            .await
            .map_err(|error| match &error {
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    Error::DuplicateUuid { uuid: uuid.clone() }
                }
                _ => Error::Database(error),
            })?;
        let header = self
            .header(&mut tx, &uuid)
            .await?
            .ok_or_else(|| Error::NotFound { uuid: uuid.clone() })?;
        for (key, value) in &properties {
            self.upsert_property(&mut tx, header.id, key, value).await?;
        }
        tx.commit().await?;
        Ok(Entity {
            id: header.id,
            uuid,
            kind: def.name().to_owned(),
            class: def.class().to_owned(),
            properties,
        })
    }

    /// The entity with this UUID.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none, [`Error::Database`] if a query fails.
    pub async fn entity(&self, uuid: &str) -> Result<Entity> {
        self.find_entity(uuid)
            .await?
            .ok_or_else(|| Error::NotFound {
                uuid: uuid.to_owned(),
            })
    }

    /// The entity with this UUID, if there is one.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if a query fails.
    pub async fn find_entity(&self, uuid: &str) -> Result<Option<Entity>> {
        let mut conn = self.pool.acquire().await?;
        let Some(header) = self.header(&mut conn, uuid).await? else {
            return Ok(None);
        };
        let rows = sqlx::query(
            self.dialect
                .sql(r#"SELECT pkey, "value" FROM properties WHERE entity_id = ? ORDER BY pkey"#),
        )
        .bind(header.id)
        .fetch_all(&mut *conn)
        .await?;
        let mut properties = BTreeMap::new();
        for row in &rows {
            if let (Some(key), value) = (
                row.try_get::<Option<String>, _>(0)?,
                row.try_get::<Option<String>, _>(1)?,
            ) {
                properties.insert(key, value.unwrap_or_default());
            }
        }
        Ok(Some(Entity {
            id: header.id,
            uuid: header.uuid,
            kind: header.kind,
            class: header.class,
            properties,
        }))
    }

    /// Every entity with its properties, ordered by id.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if a query fails.
    pub async fn entities(&self) -> Result<Vec<Entity>> {
        let entities = self
            .dialect
            .sql(r#"SELECT id, uuid, "type", "class" FROM entities ORDER BY id"#);
        let properties = self
            .dialect
            .sql(r#"SELECT entity_id, pkey, "value" FROM properties"#);
        self.load(sqlx::query(entities), sqlx::query(properties))
            .await
    }

    /// Sets a property, replacing its value if it is set; validated against the entity's type.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], [`Error::UnknownType`] (the stored type is unknown),
    /// [`Error::Property`] (unknown, not allowed or invalid), [`Error::Database`].
    pub async fn set_property(&self, uuid: &str, key: &str, value: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let header = self.existing(&mut tx, uuid).await?;
        let value = header.definition()?.validate_property(key, value)?.to_db();
        self.upsert_property(&mut tx, header.id, key, &value)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a property; removing one that is not set does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], [`Error::UnknownType`] (the stored type is unknown),
    /// [`Error::Property`] with `MissingRequired` if the type requires the property,
    /// [`Error::Database`].
    pub async fn unset_property(&self, uuid: &str, key: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let header = self.existing(&mut tx, uuid).await?;
        let def = header.definition()?;
        if def.required().iter().any(|required| required == key) {
            let keys: Vec<String> = sqlx::query_scalar(
                self.dialect
                    .sql("SELECT pkey FROM properties WHERE entity_id = ? AND pkey <> ?"),
            )
            .bind(header.id)
            .bind(key)
            .fetch_all(&mut *tx)
            .await?;
            def.check_required(keys.iter().map(String::as_str))?;
        }
        sqlx::query(
            self.dialect
                .sql("DELETE FROM properties WHERE entity_id = ? AND pkey = ?"),
        )
        .bind(header.id)
        .bind(key)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes an entity with everything that refers to it, in one transaction.
    ///
    /// No foreign key cascades, so the children go first: aggregates, readings, properties,
    /// group memberships (as group and as member), then the entity.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], [`Error::Database`].
    pub async fn delete_entity(&self, uuid: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let header = self.existing(&mut tx, uuid).await?;
        for statement in [
            "DELETE FROM aggregate WHERE channel_id = ?",
            "DELETE FROM data WHERE channel_id = ?",
            "DELETE FROM properties WHERE entity_id = ?",
            "DELETE FROM entities_in_aggregator WHERE parent_id = ?",
            "DELETE FROM entities_in_aggregator WHERE child_id = ?",
            "DELETE FROM entities WHERE id = ?",
        ] {
            sqlx::query(self.dialect.sql(statement))
                .bind(header.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Runs an entity query (id, uuid, type, class) and a property query (entity_id, pkey,
    /// value) and joins their rows.
    pub(super) async fn load<'q>(
        &self,
        entities: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
        properties: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> Result<Vec<Entity>> {
        let mut conn = self.pool.acquire().await?;
        let mut by_id: HashMap<i32, BTreeMap<String, String>> = HashMap::new();
        for row in properties.fetch_all(&mut *conn).await? {
            let id: i32 = row.try_get(0)?;
            if let (Some(key), value) = (
                row.try_get::<Option<String>, _>(1)?,
                row.try_get::<Option<String>, _>(2)?,
            ) {
                by_id
                    .entry(id)
                    .or_default()
                    .insert(key, value.unwrap_or_default());
            }
        }
        entities
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| {
                let id: i32 = row.try_get(0)?;
                Ok(Entity {
                    id,
                    uuid: row.try_get(1)?,
                    kind: row.try_get(2)?,
                    class: row.try_get(3)?,
                    properties: by_id.remove(&id).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The `entities` row with this UUID, if any.
    async fn header(&self, conn: &mut AnyConnection, uuid: &str) -> Result<Option<Header>> {
        let row = sqlx::query(
            self.dialect
                .sql(r#"SELECT id, uuid, "type", "class" FROM entities WHERE uuid = ?"#),
        )
        .bind(uuid)
        .fetch_optional(&mut *conn)
        .await?;
        row.map(|row| {
            Ok(Header {
                id: row.try_get(0)?,
                uuid: row.try_get(1)?,
                kind: row.try_get(2)?,
                class: row.try_get(3)?,
            })
        })
        .transpose()
    }

    /// The `entities` row with this UUID, or [`Error::NotFound`].
    pub(super) async fn existing(&self, conn: &mut AnyConnection, uuid: &str) -> Result<Header> {
        self.header(conn, uuid)
            .await?
            .ok_or_else(|| Error::NotFound {
                uuid: uuid.to_owned(),
            })
    }

    /// Inserts or replaces one property row.
    async fn upsert_property(
        &self,
        conn: &mut AnyConnection,
        entity_id: i32,
        key: &str,
        value: &str,
    ) -> Result<()> {
        sqlx::query(self.dialect.upsert_property(self.layout.properties_id))
            .bind(entity_id)
            .bind(key)
            .bind(value)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

/// A UUID in the canonical form: lowercase, hyphenated.
fn canonical_uuid(text: &str) -> Result<String> {
    uuid::Uuid::parse_str(text.trim())
        .map(|uuid| uuid.hyphenated().to_string())
        .map_err(|_| Error::InvalidUuid {
            uuid: text.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalises_uuids() {
        let canonical = "13df0000-097b-11eb-a092-174646e1882d";
        assert_eq!(canonical_uuid(canonical).unwrap(), canonical);
        assert_eq!(
            canonical_uuid("13DF0000-097B-11EB-A092-174646E1882D").unwrap(),
            canonical
        );
        assert_eq!(
            canonical_uuid("13df0000097b11eba092174646e1882d").unwrap(),
            canonical
        );
        assert!(matches!(
            canonical_uuid("nope"),
            Err(Error::InvalidUuid { .. })
        ));
    }

    #[test]
    fn entity_accessors() {
        let entity = Entity {
            id: 1,
            uuid: "u".into(),
            kind: "power".into(),
            class: "channel".into(),
            properties: BTreeMap::from([
                ("resolution".into(), "1000".into()),
                ("title".into(), "Flat".into()),
            ]),
        };
        assert_eq!(entity.resolution(), Some(1000.0));
        assert_eq!(entity.title(), Some("Flat"));
        assert_eq!(entity.definition().map(|def| def.name()), Some("power"));
        assert!(!entity.is_group());
    }
}
