//! Group membership: the `entities_in_aggregator` table.

use std::collections::HashSet;

use push_core::definition::Model;
use sqlx::{AnyConnection, Row as _};

use super::Db;
use super::entity::Header;
use crate::{Entity, Error, Result};

impl Db {
    /// Makes `child_uuid` a member of the group `group_uuid`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for either UUID, [`Error::NotAGroup`] if the first is not a group,
    /// [`Error::AlreadyChild`], [`Error::Cycle`] if the group would contain itself,
    /// [`Error::Database`].
    pub async fn add_child(&self, group_uuid: &str, child_uuid: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let group = self.group(&mut tx, group_uuid).await?;
        let child = self.existing(&mut tx, child_uuid).await?;
        let edges: Vec<(i32, i32)> = sqlx::query(
            self.dialect
                .sql("SELECT parent_id, child_id FROM entities_in_aggregator"),
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()?;
        if edges.contains(&(group.id, child.id)) {
            return Err(Error::AlreadyChild {
                group: group_uuid.to_owned(),
                child: child_uuid.to_owned(),
            });
        }
        if reaches(&edges, child.id, group.id) {
            return Err(Error::Cycle);
        }
        sqlx::query(
            self.dialect
                .sql("INSERT INTO entities_in_aggregator (parent_id, child_id) VALUES (?, ?)"),
        )
        .bind(group.id)
        .bind(child.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes `child_uuid` from the group `group_uuid`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for either UUID, [`Error::NotAGroup`], [`Error::NotAChild`],
    /// [`Error::Database`].
    pub async fn remove_child(&self, group_uuid: &str, child_uuid: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let group = self.group(&mut tx, group_uuid).await?;
        let child = self.existing(&mut tx, child_uuid).await?;
        let done = sqlx::query(
            self.dialect
                .sql("DELETE FROM entities_in_aggregator WHERE parent_id = ? AND child_id = ?"),
        )
        .bind(group.id)
        .bind(child.id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotAChild {
                group: group_uuid.to_owned(),
                child: child_uuid.to_owned(),
            });
        }
        tx.commit().await?;
        Ok(())
    }

    /// The direct members of a group with their properties, ordered by id.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], [`Error::NotAGroup`], [`Error::Database`].
    pub async fn children(&self, group_uuid: &str) -> Result<Vec<Entity>> {
        let group = self
            .group(&mut *self.pool.acquire().await?, group_uuid)
            .await?;
        let entities = self.dialect.sql(
            r#"SELECT e.id, e.uuid, e."type", e."class" FROM entities e JOIN entities_in_aggregator m ON m.child_id = e.id WHERE m.parent_id = ? ORDER BY e.id"#,
        );
        let properties = self.dialect.sql(
            r#"SELECT p.entity_id, p.pkey, p."value" FROM properties p JOIN entities_in_aggregator m ON m.child_id = p.entity_id WHERE m.parent_id = ?"#,
        );
        self.load(
            sqlx::query(entities).bind(group.id),
            sqlx::query(properties).bind(group.id),
        )
        .await
    }

    /// The `entities` row of a group, or [`Error::NotFound`] / [`Error::NotAGroup`].
    async fn group(&self, conn: &mut AnyConnection, uuid: &str) -> Result<Header> {
        let header = self.existing(conn, uuid).await?;
        if header.class != Model::Aggregator.class() {
            return Err(Error::NotAGroup {
                uuid: uuid.to_owned(),
            });
        }
        Ok(header)
    }
}

/// Whether `to` can be reached from `from` along parent → child edges.
fn reaches(edges: &[(i32, i32)], from: i32, to: i32) -> bool {
    let mut seen = HashSet::from([from]);
    let mut todo = vec![from];
    while let Some(parent) = todo.pop() {
        if parent == to {
            return true;
        }
        for &(_, child) in edges.iter().filter(|&&(p, _)| p == parent) {
            if seen.insert(child) {
                todo.push(child);
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_paths_between_groups() {
        let edges = [(1, 2), (2, 3), (3, 4), (5, 1)];
        assert!(reaches(&edges, 1, 4));
        assert!(reaches(&edges, 5, 3));
        assert!(reaches(&edges, 2, 2));
        assert!(!reaches(&edges, 4, 1));
        assert!(!reaches(&[(1, 2), (2, 1)], 1, 3));
    }
}
