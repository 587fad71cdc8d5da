//! Raw readings on every backend: single and batch inserts, duplicates, range reads.

mod common;

use common::{count, power};
use middleware::{Db, Error, Reading, db_test};

fn reading(timestamp: i64, value: f64) -> Reading {
    Reading { timestamp, value }
}

/// A channel to write to.
async fn channel(db: &Db) -> i32 {
    db.create_entity(&power("meter", "1000"))
        .await
        .expect("creating a channel")
        .id
}

db_test!(reads_an_inclusive_range_in_order, |t| async move {
    let db = t.db();
    let id = channel(db).await;
    let other = channel(db).await;
    for (timestamp, value) in [(3000, 3.0), (1000, 1.0), (2000, 2.0), (4000, 4.0)] {
        db.insert_reading(id, timestamp, value).await?;
    }
    db.insert_reading(other, 2000, 99.0).await?;
    assert_eq!(
        db.readings(id, 1000, 3000).await?,
        [reading(1000, 1.0), reading(2000, 2.0), reading(3000, 3.0)]
    );
    assert_eq!(db.readings(id, 1001, 2999).await?, [reading(2000, 2.0)]);
    assert_eq!(db.readings(id, 5000, 6000).await?, []);
    assert_eq!(
        db.readings(other, i64::MIN, i64::MAX).await?,
        [reading(2000, 99.0)]
    );
    Ok::<_, Error>(())
});

db_test!(keeps_values_and_timestamps_exact, |t| async move {
    let db = t.db();
    let id = channel(db).await;
    let batch = [
        reading(1, 0.1),
        reading(2, -5.5),
        reading(3, 1e-300),
        reading(4, 123_456_789.123_456_7),
        reading(1_715_761_800_999, 0.0),
        reading((1 << 53) + 1, f64::MAX),
    ];
    assert_eq!(db.insert_readings(id, &batch).await?, 6);
    assert_eq!(db.readings(id, i64::MIN, i64::MAX).await?, batch);
    Ok::<_, Error>(())
});

db_test!(refuses_a_duplicate_reading, |t| async move {
    let db = t.db();
    let id = channel(db).await;
    db.insert_reading(id, 1000, 1.0).await?;
    match db.insert_reading(id, 1000, 2.0).await {
        Err(Error::DuplicateReading {
            channel_id,
            timestamp,
        }) => {
            assert_eq!((channel_id, timestamp), (id, 1000));
        }
        other => panic!("expected DuplicateReading, got {other:?}"),
    }
    assert_eq!(db.readings(id, 0, 2000).await?, [reading(1000, 1.0)]);
    Ok::<_, Error>(())
});

db_test!(inserts_a_batch, |t| async move {
    let db = t.db();
    let id = channel(db).await;
    assert_eq!(db.insert_readings(id, &[]).await?, 0);
    let batch: Vec<Reading> = (1..=10)
        .rev()
        .map(|i| reading(i * 1000, i as f64))
        .collect();
    assert_eq!(db.insert_readings(id, &batch).await?, 10);
    let mut sorted = batch.clone();
    sorted.sort_by_key(|r| r.timestamp);
    assert_eq!(db.readings(id, 0, 100_000).await?, sorted);
    Ok::<_, Error>(())
});

db_test!(a_duplicate_inside_a_batch_writes_nothing, |t| async move {
    let db = t.db();
    let id = channel(db).await;
    let batch = [
        reading(1, 1.0),
        reading(2, 2.0),
        reading(3, 3.0),
        reading(2, 4.0),
        reading(1, 5.0),
    ];
    match db.insert_readings(id, &batch).await {
        Err(Error::DuplicateReading {
            channel_id,
            timestamp,
        }) => {
            assert_eq!((channel_id, timestamp), (id, 2));
        }
        other => panic!("expected DuplicateReading, got {other:?}"),
    }
    assert_eq!(count(&t, "data").await, 0);
    Ok::<_, Error>(())
});

db_test!(
    a_batch_colliding_with_a_stored_reading_writes_nothing,
    |t| async move {
        let db = t.db();
        let id = channel(db).await;
        db.insert_reading(id, 5, 0.5).await?;
        db.insert_reading(id, 7, 0.7).await?;
        let batch: Vec<Reading> = (1..=10).map(|i| reading(i, i as f64)).collect();
        match db.insert_readings(id, &batch).await {
            Err(Error::DuplicateReading {
                channel_id,
                timestamp,
            }) => {
                assert_eq!((channel_id, timestamp), (id, 5));
            }
            other => panic!("expected DuplicateReading, got {other:?}"),
        }
        assert_eq!(
            db.readings(id, 0, 100).await?,
            [reading(5, 0.5), reading(7, 0.7)]
        );

        // A stored collision before an in-batch repeat is the first duplicate ...
        let batch = [
            reading(20, 1.0),
            reading(7, 1.0),
            reading(21, 1.0),
            reading(20, 1.0),
        ];
        assert!(matches!(
            db.insert_readings(id, &batch).await,
            Err(Error::DuplicateReading { timestamp: 7, .. })
        ));
        // ... and an in-batch repeat before a stored collision is.
        let batch = [reading(20, 1.0), reading(20, 1.0), reading(7, 1.0)];
        assert!(matches!(
            db.insert_readings(id, &batch).await,
            Err(Error::DuplicateReading { timestamp: 20, .. })
        ));
        assert_eq!(count(&t, "data").await, 2);
        Ok::<_, Error>(())
    }
);

db_test!(
    inserts_batches_beyond_the_bind_parameter_limit,
    |t| async move {
        let db = t.db();
        let id = channel(db).await;
        let batch: Vec<Reading> = (0..70_000)
            .map(|i| reading(1_700_000_000_000 + i, (i % 7) as f64))
            .collect();
        assert_eq!(db.insert_readings(id, &batch).await?, 70_000);
        let read = db.readings(id, i64::MIN, i64::MAX).await?;
        assert_eq!(read.len(), 70_000);
        assert_eq!(read, batch);

        // A collision in the last chunk undoes every earlier chunk.
        let other = channel(db).await;
        let mut batch: Vec<Reading> = (0..70_000).map(|i| reading(i, 1.0)).collect();
        db.insert_reading(other, 69_999, 0.0).await?;
        match db.insert_readings(other, &batch).await {
            Err(Error::DuplicateReading {
                channel_id,
                timestamp,
            }) => {
                assert_eq!((channel_id, timestamp), (other, 69_999));
            }
            result => panic!("expected DuplicateReading, got {result:?}"),
        }
        assert_eq!(
            db.readings(other, i64::MIN, i64::MAX).await?,
            [reading(69_999, 0.0)]
        );
        batch.pop();
        assert_eq!(db.insert_readings(other, &batch).await?, 69_999);
        assert_eq!(count(&t, "data").await, 140_000);
        Ok::<_, Error>(())
    }
);

db_test!(refuses_readings_of_unknown_channels, |t| async move {
    let db = t.db();
    assert!(matches!(
        db.insert_reading(4711, 1, 1.0).await,
        Err(Error::UnknownChannel { channel_id: 4711 })
    ));
    assert!(matches!(
        db.insert_readings(4711, &[reading(1, 1.0), reading(2, 2.0)])
            .await,
        Err(Error::UnknownChannel { channel_id: 4711 })
    ));
    assert_eq!(count(&t, "data").await, 0);
});
