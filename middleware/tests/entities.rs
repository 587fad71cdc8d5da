//! Entities, properties and groups on every backend.

mod common;

use std::collections::BTreeMap;

use common::{counts, group, power};
use middleware::{Error, NewEntity, db_test};
use push_core::property::PropertyError;

/// Row counts of a database with nothing in it.
const NOTHING: [i64; 5] = [0; 5];

db_test!(creates_a_power_channel, |t| async move {
    let db = t.db();
    let created = db.create_entity(&power("Flat", "1000")).await?;
    assert_eq!(created.kind, "power");
    assert_eq!(created.class, "channel");
    assert_eq!(
        created.properties,
        BTreeMap::from([
            ("resolution".to_owned(), "1000".to_owned()),
            ("title".to_owned(), "Flat".to_owned())
        ])
    );
    assert_eq!(created.resolution(), Some(1000.0));
    assert_eq!(created.title(), Some("Flat"));
    assert_eq!(created.definition().map(|def| def.name()), Some("power"));

    let read = db.entity(&created.uuid).await?;
    assert_eq!(read, created);
    assert_eq!(db.find_entity(&created.uuid).await?, Some(created.clone()));
    assert_eq!(db.entities().await?, vec![created]);
    Ok::<_, Error>(())
});

db_test!(generates_lowercase_v4_uuids, |t| async move {
    let db = t.db();
    let a = db.create_entity(&power("a", "1")).await?;
    let b = db.create_entity(&power("b", "1")).await?;
    for entity in [&a, &b] {
        let parsed = uuid::Uuid::parse_str(&entity.uuid).expect("a uuid");
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(entity.uuid, parsed.hyphenated().to_string());
        assert_eq!(entity.uuid, entity.uuid.to_lowercase());
    }
    assert_ne!(a.uuid, b.uuid);
    assert!(a.id < b.id);
    Ok::<_, Error>(())
});

db_test!(refuses_a_duplicate_uuid, |t| async move {
    let db = t.db();
    let given = NewEntity {
        uuid: Some("13DF0000-097B-11EB-A092-174646E1882D".into()),
        ..power("a", "1")
    };
    let created = db.create_entity(&given).await?;
    assert_eq!(created.uuid, "13df0000-097b-11eb-a092-174646e1882d");
    match db.create_entity(&given).await {
        Err(Error::DuplicateUuid { uuid }) => assert_eq!(uuid, created.uuid),
        other => panic!("expected DuplicateUuid, got {other:?}"),
    }
    let invalid = NewEntity {
        uuid: Some("not-a-uuid".into()),
        ..power("b", "1")
    };
    assert!(matches!(
        db.create_entity(&invalid).await,
        Err(Error::InvalidUuid { .. })
    ));
    assert_eq!(counts(&t).await, [1, 2, 0, 0, 0]);
    Ok::<_, Error>(())
});

db_test!(refuses_unknown_types, |t| async move {
    let new = NewEntity {
        kind: "nonsense".into(),
        ..power("a", "1")
    };
    match t.db().create_entity(&new).await {
        Err(Error::UnknownType { kind }) => assert_eq!(kind, "nonsense"),
        other => panic!("expected UnknownType, got {other:?}"),
    }
    assert_eq!(counts(&t).await, NOTHING);
});

db_test!(refuses_missing_required_properties, |t| async move {
    let new = NewEntity {
        kind: "power".into(),
        uuid: None,
        properties: vec![("title".into(), "no resolution".into())],
    };
    match t.db().create_entity(&new).await {
        Err(Error::Property(PropertyError::MissingRequired { keys, .. })) => {
            assert_eq!(keys, ["resolution"]);
        }
        other => panic!("expected MissingRequired, got {other:?}"),
    }
    assert_eq!(counts(&t).await, NOTHING);
});

db_test!(refuses_invalid_properties, |t| async move {
    let db = t.db();
    assert!(matches!(
        db.create_entity(&power("a", "0")).await,
        Err(Error::Property(PropertyError::Invalid { .. }))
    ));
    let mut unknown = power("a", "1");
    unknown.properties.push(("nonsense".into(), "1".into()));
    assert!(matches!(
        db.create_entity(&unknown).await,
        Err(Error::Property(PropertyError::Unknown { .. }))
    ));
    assert_eq!(counts(&t).await, NOTHING);
});

db_test!(stores_values_in_volkszaehler_text_form, |t| async move {
    let mut new = power("a", "1000.0");
    new.properties.push(("public".into(), "true".into()));
    new.properties.push(("title".into(), "last wins".into()));
    let created = t.db().create_entity(&new).await?;
    assert_eq!(created.properties["resolution"], "1000");
    assert_eq!(created.properties["public"], "1");
    assert_eq!(created.properties["title"], "last wins");
    assert_eq!(t.db().entity(&created.uuid).await?, created);
    Ok::<_, Error>(())
});

db_test!(sets_and_unsets_properties, |t| async move {
    let db = t.db();
    let channel = db.create_entity(&power("a", "1000")).await?;
    db.set_property(&channel.uuid, "color", "red").await?;
    db.set_property(&channel.uuid, "color", "blue").await?;
    db.set_property(&channel.uuid, "resolution", "500").await?;
    let read = db.entity(&channel.uuid).await?;
    assert_eq!(read.properties["color"], "blue");
    assert_eq!(read.resolution(), Some(500.0));

    assert!(matches!(
        db.set_property(&channel.uuid, "resolution", "-1").await,
        Err(Error::Property(PropertyError::Invalid { .. }))
    ));
    assert!(matches!(
        db.set_property(&channel.uuid, "nonsense", "1").await,
        Err(Error::Property(PropertyError::Unknown { .. }))
    ));
    assert_eq!(db.entity(&channel.uuid).await?.resolution(), Some(500.0));

    db.unset_property(&channel.uuid, "color").await?;
    db.unset_property(&channel.uuid, "color").await?;
    match db.unset_property(&channel.uuid, "resolution").await {
        Err(Error::Property(PropertyError::MissingRequired { keys, .. })) => {
            assert_eq!(keys, ["resolution"]);
        }
        other => panic!("expected MissingRequired, got {other:?}"),
    }
    let read = db.entity(&channel.uuid).await?;
    assert_eq!(
        read.properties.keys().collect::<Vec<_>>(),
        ["resolution", "title"]
    );

    let missing = "00000000-0000-4000-8000-000000000000";
    assert!(matches!(
        db.set_property(missing, "color", "red").await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        db.unset_property(missing, "color").await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        db.entity(missing).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(db.find_entity(missing).await?, None);
    Ok::<_, Error>(())
});

db_test!(deletes_an_entity_with_everything_it_has, |t| async move {
    let db = t.db();
    let channel = db.create_entity(&power("a", "1000")).await?;
    let other = db.create_entity(&power("b", "1000")).await?;
    let parent = db.create_entity(&group("parent")).await?;
    db.add_child(&parent.uuid, &channel.uuid).await?;
    db.add_child(&parent.uuid, &other.uuid).await?;
    db.insert_reading(channel.id, 1000, 1.0).await?;
    db.insert_reading(channel.id, 2000, 2.0).await?;
    db.insert_reading(other.id, 1000, 1.0).await?;
    let pool = common::raw(&t).await;
    let insert = format!(
        "INSERT INTO aggregate (channel_id, {q}type{q}, {q}timestamp{q}, {q}value{q}, {q}count{q}) VALUES ({}, 3, 2000, 3.0, 2)",
        channel.id,
        q = if t.backend() == middleware::Backend::MySql {
            "`"
        } else {
            "\""
        },
    );
    sqlx::query(sqlx::AssertSqlSafe(insert))
        .execute(&pool)
        .await?;
    pool.close().await;
    assert_eq!(counts(&t).await, [3, 5, 2, 3, 1]);

    db.delete_entity(&channel.uuid).await?;
    assert_eq!(counts(&t).await, [2, 3, 1, 1, 0]);
    assert!(db.find_entity(&channel.uuid).await?.is_none());
    assert_eq!(db.readings(channel.id, 0, 10_000).await?, []);

    // A group goes with its memberships; its children stay.
    db.delete_entity(&parent.uuid).await?;
    assert_eq!(counts(&t).await, [1, 2, 0, 1, 0]);
    assert_eq!(db.entity(&other.uuid).await?.id, other.id);
    assert!(matches!(
        db.delete_entity(&parent.uuid).await,
        Err(Error::NotFound { .. })
    ));
    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
});

db_test!(manages_group_members, |t| async move {
    let db = t.db();
    let a = db.create_entity(&power("a", "1")).await?;
    let b = db.create_entity(&power("b", "1")).await?;
    let outer = db.create_entity(&group("outer")).await?;
    let inner = db.create_entity(&group("inner")).await?;
    assert_eq!(outer.class, "aggregator");
    assert!(outer.is_group());

    db.add_child(&inner.uuid, &b.uuid).await?;
    db.add_child(&inner.uuid, &a.uuid).await?;
    db.add_child(&outer.uuid, &inner.uuid).await?;
    let children = db.children(&inner.uuid).await?;
    assert_eq!(
        children,
        vec![db.entity(&a.uuid).await?, db.entity(&b.uuid).await?]
    );
    assert_eq!(
        db.children(&outer.uuid).await?,
        vec![db.entity(&inner.uuid).await?]
    );

    assert!(matches!(
        db.add_child(&inner.uuid, &a.uuid).await,
        Err(Error::AlreadyChild { .. })
    ));
    match db.add_child(&a.uuid, &b.uuid).await {
        Err(Error::NotAGroup { uuid }) => assert_eq!(uuid, a.uuid),
        other => panic!("expected NotAGroup, got {other:?}"),
    }
    assert!(matches!(
        db.children(&a.uuid).await,
        Err(Error::NotAGroup { .. })
    ));
    let missing = "00000000-0000-4000-8000-000000000000";
    assert!(matches!(
        db.add_child(&outer.uuid, missing).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        db.add_child(missing, &a.uuid).await,
        Err(Error::NotFound { .. })
    ));

    db.remove_child(&inner.uuid, &b.uuid).await?;
    assert_eq!(
        db.children(&inner.uuid).await?,
        vec![db.entity(&a.uuid).await?]
    );
    assert!(matches!(
        db.remove_child(&inner.uuid, &b.uuid).await,
        Err(Error::NotAChild { .. })
    ));
    assert_eq!(counts(&t).await[2], 2);
    Ok::<_, Error>(())
});

db_test!(refuses_cycles, |t| async move {
    let db = t.db();
    let a = db.create_entity(&group("a")).await?;
    let b = db.create_entity(&group("b")).await?;
    let c = db.create_entity(&group("c")).await?;
    assert!(matches!(
        db.add_child(&a.uuid, &a.uuid).await,
        Err(Error::Cycle)
    ));
    db.add_child(&a.uuid, &b.uuid).await?;
    db.add_child(&b.uuid, &c.uuid).await?;
    assert!(matches!(
        db.add_child(&b.uuid, &a.uuid).await,
        Err(Error::Cycle)
    ));
    assert!(matches!(
        db.add_child(&c.uuid, &a.uuid).await,
        Err(Error::Cycle)
    ));
    // A diamond is no cycle.
    db.add_child(&a.uuid, &c.uuid).await?;
    assert_eq!(counts(&t).await[2], 3);
    Ok::<_, Error>(())
});

db_test!(creates_entities_concurrently, |t| async move {
    let db = t.db().clone();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let channel = db.create_entity(&power(&format!("c{i}"), "1000")).await?;
            db.set_property(&channel.uuid, "color", "red").await?;
            db.insert_reading(channel.id, 1, 1.0).await?;
            Ok::<_, Error>(())
        }));
    }
    for task in tasks {
        task.await.expect("task panicked")?;
    }
    assert_eq!(counts(&t).await, [16, 48, 0, 16, 0]);
    Ok::<_, Error>(())
});
