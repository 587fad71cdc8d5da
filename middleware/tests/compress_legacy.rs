//! vz-compress's merge on the legacy schema variant (tools-and-schema §1.5: `data` with an
//! `id` primary key and a unique index over (channel_id, timestamp)) on every backend: the
//! merged readings get new ids from the database, the schema stays as it is.

mod common;

use common::power;
use middleware::{Backend, Error, MergeFunction, Reading, SchemaVariant, WindowRun, db_test};

/// Legacy DDL for MySQL/MariaDB, written from §1.5 (entities tables as in §1.2).
const MYSQL_LEGACY: &str = "
CREATE TABLE entities (id INT AUTO_INCREMENT NOT NULL, uuid VARCHAR(36) NOT NULL, type VARCHAR(255) NOT NULL,
  class VARCHAR(255) NOT NULL, UNIQUE INDEX UNIQ_50EC64E5D17F50A6 (uuid), PRIMARY KEY(id))
  DEFAULT CHARACTER SET utf8 COLLATE utf8_unicode_ci ENGINE = InnoDB;
CREATE TABLE entities_in_aggregator (parent_id INT NOT NULL, child_id INT NOT NULL,
  INDEX IDX_2BD88468727ACA70 (parent_id), INDEX IDX_2BD88468DD62C21B (child_id), PRIMARY KEY(parent_id, child_id))
  DEFAULT CHARACTER SET utf8 COLLATE utf8_unicode_ci ENGINE = InnoDB;
CREATE TABLE data (id INT AUTO_INCREMENT NOT NULL, channel_id INT NOT NULL, timestamp BIGINT NOT NULL,
  value DOUBLE PRECISION NOT NULL, INDEX IDX_ADF3F36372F5A1AA (channel_id),
  UNIQUE INDEX data_unique (channel_id, timestamp), PRIMARY KEY(id))
  DEFAULT CHARACTER SET utf8 COLLATE utf8_unicode_ci ENGINE = InnoDB;
CREATE TABLE properties (id INT AUTO_INCREMENT NOT NULL, entity_id INT NOT NULL, pkey VARCHAR(255) DEFAULT NULL,
  value LONGTEXT DEFAULT NULL, INDEX IDX_87C331C781257D5D (entity_id),
  UNIQUE INDEX property_unique (entity_id, pkey), PRIMARY KEY(id))
  DEFAULT CHARACTER SET utf8 COLLATE utf8_unicode_ci ENGINE = InnoDB;
CREATE TABLE aggregate (id INT AUTO_INCREMENT NOT NULL, channel_id INT NOT NULL, type SMALLINT DEFAULT NULL,
  timestamp BIGINT DEFAULT NULL, value DOUBLE PRECISION DEFAULT NULL, count INT DEFAULT NULL,
  INDEX IDX_B77949FF72F5A1AA (channel_id), UNIQUE INDEX aggregate_unique (channel_id, type, timestamp),
  PRIMARY KEY(id)) DEFAULT CHARACTER SET utf8 COLLATE utf8_unicode_ci ENGINE = InnoDB;
ALTER TABLE entities_in_aggregator ADD CONSTRAINT FK_2BD88468727ACA70 FOREIGN KEY (parent_id) REFERENCES entities (id);
ALTER TABLE entities_in_aggregator ADD CONSTRAINT FK_2BD88468DD62C21B FOREIGN KEY (child_id) REFERENCES entities (id);
ALTER TABLE data ADD CONSTRAINT FK_ADF3F36372F5A1AA FOREIGN KEY (channel_id) REFERENCES entities (id);
ALTER TABLE properties ADD CONSTRAINT FK_87C331C781257D5D FOREIGN KEY (entity_id) REFERENCES entities (id);
ALTER TABLE aggregate ADD CONSTRAINT FK_B77949FF72F5A1AA FOREIGN KEY (channel_id) REFERENCES entities (id)
";

/// Legacy DDL for PostgreSQL: `data.id` SERIAL, `properties.id`/`aggregate.id` fed from
/// sequences without a column default.
const POSTGRES_LEGACY: &str = r#"
CREATE SEQUENCE entities_id_seq INCREMENT BY 1 MINVALUE 1 START 1;
CREATE SEQUENCE properties_id_seq INCREMENT BY 1 MINVALUE 1 START 1;
CREATE SEQUENCE aggregate_id_seq INCREMENT BY 1 MINVALUE 1 START 1;
CREATE TABLE entities (id INT NOT NULL, uuid VARCHAR(36) NOT NULL, type VARCHAR(255) NOT NULL,
  class VARCHAR(255) NOT NULL, PRIMARY KEY(id));
CREATE UNIQUE INDEX UNIQ_50EC64E5D17F50A6 ON entities (uuid);
CREATE TABLE entities_in_aggregator (parent_id INT NOT NULL, child_id INT NOT NULL, PRIMARY KEY(parent_id, child_id));
CREATE INDEX IDX_2BD88468727ACA70 ON entities_in_aggregator (parent_id);
CREATE INDEX IDX_2BD88468DD62C21B ON entities_in_aggregator (child_id);
CREATE TABLE data (id SERIAL NOT NULL, channel_id INT NOT NULL, "timestamp" BIGINT NOT NULL,
  value DOUBLE PRECISION NOT NULL, PRIMARY KEY(id));
CREATE INDEX IDX_ADF3F36372F5A1AA ON data (channel_id);
CREATE UNIQUE INDEX data_unique ON data (channel_id, "timestamp");
CREATE TABLE properties (id INT NOT NULL, entity_id INT NOT NULL, pkey VARCHAR(255) DEFAULT NULL,
  value TEXT DEFAULT NULL, PRIMARY KEY(id));
CREATE INDEX IDX_87C331C781257D5D ON properties (entity_id);
CREATE UNIQUE INDEX property_unique ON properties (entity_id, pkey);
CREATE TABLE aggregate (id INT NOT NULL, channel_id INT NOT NULL, type SMALLINT DEFAULT NULL,
  "timestamp" BIGINT DEFAULT NULL, value DOUBLE PRECISION DEFAULT NULL, count INT DEFAULT NULL, PRIMARY KEY(id));
CREATE INDEX IDX_B77949FF72F5A1AA ON aggregate (channel_id);
CREATE UNIQUE INDEX aggregate_unique ON aggregate (channel_id, type, "timestamp");
ALTER TABLE entities_in_aggregator ADD CONSTRAINT FK_2BD88468727ACA70 FOREIGN KEY (parent_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE entities_in_aggregator ADD CONSTRAINT FK_2BD88468DD62C21B FOREIGN KEY (child_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE data ADD CONSTRAINT FK_ADF3F36372F5A1AA FOREIGN KEY (channel_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE properties ADD CONSTRAINT FK_87C331C781257D5D FOREIGN KEY (entity_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE aggregate ADD CONSTRAINT FK_B77949FF72F5A1AA FOREIGN KEY (channel_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE
"#;

/// Legacy DDL for SQLite (Doctrine's SQLite form of §1.5).
const SQLITE_LEGACY: &str = r#"
CREATE TABLE entities (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, uuid VARCHAR(36) NOT NULL,
  type VARCHAR(255) NOT NULL, class VARCHAR(255) NOT NULL);
CREATE UNIQUE INDEX UNIQ_50EC64E5D17F50A6 ON entities (uuid);
CREATE TABLE entities_in_aggregator (parent_id INTEGER NOT NULL, child_id INTEGER NOT NULL,
  PRIMARY KEY(parent_id, child_id),
  CONSTRAINT FK_2BD88468727ACA70 FOREIGN KEY (parent_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE,
  CONSTRAINT FK_2BD88468DD62C21B FOREIGN KEY (child_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE);
CREATE INDEX IDX_2BD88468727ACA70 ON entities_in_aggregator (parent_id);
CREATE INDEX IDX_2BD88468DD62C21B ON entities_in_aggregator (child_id);
CREATE TABLE data (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, channel_id INTEGER NOT NULL,
  "timestamp" BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL,
  CONSTRAINT FK_ADF3F36372F5A1AA FOREIGN KEY (channel_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE);
CREATE INDEX IDX_ADF3F36372F5A1AA ON data (channel_id);
CREATE UNIQUE INDEX data_unique ON data (channel_id, "timestamp");
CREATE TABLE properties (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, entity_id INTEGER NOT NULL,
  pkey VARCHAR(255) DEFAULT NULL, value CLOB DEFAULT NULL,
  CONSTRAINT FK_87C331C781257D5D FOREIGN KEY (entity_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE);
CREATE INDEX IDX_87C331C781257D5D ON properties (entity_id);
CREATE UNIQUE INDEX property_unique ON properties (entity_id, pkey);
CREATE TABLE aggregate (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, channel_id INTEGER NOT NULL,
  type SMALLINT DEFAULT NULL, "timestamp" BIGINT DEFAULT NULL, value DOUBLE PRECISION DEFAULT NULL,
  count INTEGER DEFAULT NULL,
  CONSTRAINT FK_B77949FF72F5A1AA FOREIGN KEY (channel_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE);
CREATE INDEX IDX_B77949FF72F5A1AA ON aggregate (channel_id);
CREATE UNIQUE INDEX aggregate_unique ON aggregate (channel_id, type, "timestamp")
"#;

/// The legacy DDL for the test database's backend.
fn legacy_ddl(backend: Backend) -> &'static str {
    match backend {
        Backend::MySql => MYSQL_LEGACY,
        Backend::Postgres => POSTGRES_LEGACY,
        Backend::Sqlite => SQLITE_LEGACY,
    }
}

db_test!(empty merges_windows_on_the_legacy_schema, |t| async move {
    t.execute(legacy_ddl(t.backend())).await;
    let db = t.connect().await?;
    assert_eq!(db.variant(), SchemaVariant::Legacy);
    let channel = db.create_entity(&power("legacy", "1000")).await?;
    let readings: Vec<Reading> = (0..600)
        .map(|i| Reading {
            timestamp: 1_700_000_040_000 + i * 1000,
            value: 1.0,
        })
        .collect();
    db.insert_readings(channel.id, &readings).await?;
    let run = WindowRun {
        channel_id: channel.id,
        from: 1_700_000_040_000,
        to: 1_700_000_040_000 + 600_000,
        window: 60_000,
        function: MergeFunction::Sum,
    };
    let outcome = db.merge_windows(&run).await?;
    assert_eq!((outcome.merged_windows, outcome.removed), (10, 590));
    let after = db.readings(channel.id, i64::MIN, i64::MAX).await?;
    assert_eq!(after.len(), 10);
    assert!(after.iter().all(|r| r.value == 60.0));
    assert_eq!(db.merge_windows(&run).await?.merged_windows, 0);
    db.close().await;
    let again = t.connect().await?;
    assert_eq!(again.variant(), SchemaVariant::Legacy);
    again.close().await;
    Ok::<_, Error>(())
});
