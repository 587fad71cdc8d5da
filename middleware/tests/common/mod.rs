//! Helpers shared by the integration tests: entity fixtures, direct row counts and the
//! schema catalogue reader.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

pub mod catalogue;

use middleware::NewEntity;
use middleware::testing::TestDb;
use sqlx::AnyPool;

/// A `power` channel with a title and a resolution.
pub fn power(title: &str, resolution: &str) -> NewEntity {
    NewEntity {
        kind: "power".into(),
        uuid: None,
        properties: vec![
            ("title".into(), title.into()),
            ("resolution".into(), resolution.into()),
        ],
    }
}

/// A `group` entity with a title.
pub fn group(title: &str) -> NewEntity {
    NewEntity {
        kind: "group".into(),
        uuid: None,
        properties: vec![("title".into(), title.into())],
    }
}

/// A pool on the test database that bypasses the crate under test.
pub async fn raw(t: &TestDb) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPool::connect(t.url())
        .await
        .expect("connecting to the test database")
}

/// `SELECT COUNT(*) FROM <table>` (the table name is a test constant).
pub async fn count(t: &TestDb, table: &str) -> i64 {
    let pool = raw(t).await;
    let sql = format!("SELECT COUNT(*) FROM {table}");
    let n = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(&pool)
        .await
        .expect("counting rows");
    pool.close().await;
    n
}

/// Row counts of every volkszaehler table, in a fixed order.
pub async fn counts(t: &TestDb) -> [i64; 5] {
    [
        count(t, "entities").await,
        count(t, "properties").await,
        count(t, "entities_in_aggregator").await,
        count(t, "data").await,
        count(t, "aggregate").await,
    ]
}
