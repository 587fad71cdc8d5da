use super::*;
use crate::definition::definition;

/// Parses `[[ts, v, …], …]` keeping integer and float kinds apart.
fn tuples(json: &str) -> Vec<RawTuple> {
    let rows: Vec<Vec<serde_json::Value>> = serde_json::from_str(json).unwrap();
    rows.into_iter()
        .map(|row| {
            let nums = row
                .iter()
                .map(|v| match v.as_i64() {
                    Some(i) => Num::Int(i),
                    None => Num::Float(v.as_f64().unwrap()),
                })
                .collect();
            RawTuple::new(nums).unwrap()
        })
        .collect()
}

fn text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Primed => "primed".into(),
        Outcome::Converted(c) => c.to_json(),
        Outcome::Duplicate => "dup".into(),
        Outcome::OutOfOrder => "old".into(),
        Outcome::NonFinite => "nonfinite".into(),
    }
}

fn converter(channel_type: &str, resolution: Option<f64>) -> Converter {
    let def = definition(channel_type).unwrap();
    Converter::new(ChannelParams::new(def, resolution)).unwrap()
}

/// Feeds `input` to `conv`; `expect` lists one outcome per tuple, space-separated.
fn feed(conv: &mut Converter, input: &str, expect: &str) {
    let got: Vec<String> = tuples(input)
        .iter()
        .map(|t| text(&conv.convert(t)))
        .collect();
    assert_eq!(got.join(" "), expect, "input {input}");
}

/// A fresh channel of `channel_type` fed with `input`.
fn check(channel_type: &str, resolution: Option<f64>, input: &str, expect: &str) {
    feed(&mut converter(channel_type, resolution), input, expect);
}

#[test]
fn push_server_test_two_requests() {
    // Spec 1.7: electric meter, resolution 100, one tuple per request on the same state.
    let mut conv = converter("electric meter", Some(100.0));
    feed(&mut conv, "[[1,1,1]]", "primed");
    feed(&mut conv, "[[2,2,1]]", "[2,36000000,1]");
}

#[test]
fn accumulator_skips_unchanged_readings() {
    let mut conv = converter("electric meter", Some(100.0));
    feed(&mut conv, "[[1,1],[2,2]]", "primed [2,36000000,1]");
    // Δvalue 1 over Δt = 5 − 2 = 3 ms.
    feed(&mut conv, "[[3,2],[4,2],[5,3]]", "dup dup [5,12000000,1]");
}

#[test]
fn sml_meter_in_watt_hours() {
    check(
        "electric meter",
        Some(1000.0),
        "[[1700000000000,12345000],[1700000002000,12345001],[1700000004000,12345001],[1700000006000,12345003]]",
        "primed [1700000002000,1800,1] dup [1700000006000,1800,1]",
    );
}

#[test]
fn accumulator_details() {
    // PHP's loose `==`: 5 and 5.0 are the same reading.
    check(
        "gas meter",
        Some(100.0),
        "[[1,5],[2,5.0],[3,5]]",
        "primed dup dup",
    );
    // Element 3 is converted, but the duplicate check looks at element 1.
    check(
        "electric meter",
        Some(1000.0),
        "[[1,5,1,100],[1001,5,1,101]]",
        "primed dup",
    );
    check(
        "electric meter",
        Some(1000.0),
        "[[1,5,1,100],[1001,6,1,102]]",
        "primed [1001,7200,1]",
    );
    // No wrap handling: a meter that goes backwards gives a negative rate, as upstream.
    check(
        "watertotal",
        None,
        "[[0,10],[3600000,9]]",
        "primed [3600000,-1,1]",
    );
    // Counts are cast like PHP's (int).
    check(
        "heattotal",
        Some(1.0),
        "[[0,0],[3600000,1,2.9]]",
        "primed [3600000,1000,2]",
    );
}

#[test]
fn impulse_examples() {
    check(
        "power",
        Some(1000.0),
        "[[1700000000000,1],[1700000001000,1],[1700000001500,2]]",
        "primed [1700000001000,3600,1] [1700000001500,14400,1]",
    );
    check(
        "gas",
        Some(100.0),
        "[[1700000000000,1],[1700000036000,1]]",
        "primed [1700000036000,1,1]",
    );
    // Repeated impulse counts are real readings, never duplicates.
    check(
        "water",
        None,
        "[[0,1],[3600000,1],[7200000,1]]",
        "primed [3600000,1,1] [7200000,1,1]",
    );
    // Element 3 means nothing to an impulse channel.
    check(
        "heat",
        Some(1000.0),
        "[[0,1],[1000,1,1,50]]",
        "primed [1000,3600,1]",
    );
    check(
        "power",
        Some(1000.0),
        "[[0,1],[7,1]]",
        "primed [7,514285.71428571426,1]",
    );
}

#[test]
fn sensor_examples() {
    check(
        "temperature",
        None,
        "[[1700000000000,20.5],[1700000060000,21.75,7]]",
        "primed [1700000060000,21.75,7]",
    );
    check(
        "powersensor",
        Some(10.0),
        "[[1700000000000,4000],[1700000001000,4510]]",
        "primed [1700000001000,451,1]",
    );
    // Element 4 replaces element 1; the count is element 2.
    check(
        "temperature",
        None,
        "[[1,0],[2,1,2,3,4,5]]",
        "primed [2,4,2]",
    );
    // Scale is not applied to sensors (workinghourssensor has scale 1000).
    check(
        "workinghourssensor",
        None,
        "[[1,0],[2,0.5]]",
        "primed [2,0.5,1]",
    );
    check(
        "voltage",
        Some(3.0),
        "[[1,0],[2,1]]",
        "primed [2,0.3333333333333333,1]",
    );
}

#[test]
fn virtual_channels_echo_the_tuple() {
    check(
        "virtualsensor",
        None,
        "[[1,2],[2,3.5,4,5],[3,7]]",
        "primed [2,3.5,4,5] [3,7,1]",
    );
    check(
        "virtualconsumption",
        None,
        "[[1,2],[2.0,1e-5,2.0]]",
        "primed [2,1.0e-5,2]",
    );
    check("virtualsensor", None, "[[1,2],[1,3]]", "primed old");
}

#[test]
fn groups_cannot_convert() {
    for group in ["group", "building", "user"] {
        let params = ChannelParams::new(definition(group).unwrap(), None);
        let err = Converter::new(params).unwrap_err();
        assert_eq!(err, ConvertError::Group);
        assert_eq!(err.to_string(), "Getting data is not supported for groups");
    }
}

#[test]
fn time_only_moves_forward() {
    // PHP gave [15,-720000,1] for the last tuple; we drop both late tuples.
    let mut conv = converter("gas", None);
    feed(
        &mut conv,
        "[[10,1],[20,1],[5,1],[15,1]]",
        "primed [20,360000,1] old old",
    );
    // The state still points at ts 20, so the next good tuple is measured from there.
    feed(&mut conv, "[[30,1]]", "[30,360000,1]");
    // PHP divided by zero here (500 for the whole request).
    check(
        "gas",
        None,
        "[[10,1],[20,1],[5,1],[20,1]]",
        "primed [20,360000,1] old old",
    );
    check(
        "electric meter",
        Some(100.0),
        "[[10,1],[10,2],[9,3],[11,2]]",
        "primed old old [11,36000000,1]",
    );
    check("temperature", None, "[[10,1],[10,2]]", "primed old");
}

#[test]
fn non_finite_results_keep_the_state() {
    let mut conv = converter("power", Some(1000.0));
    feed(&mut conv, "[[1,1],[2,1e300]]", "primed nonfinite");
    assert_eq!(conv.last_ts(), Some(1.0));
    // Δt is measured from ts 1, the last good tuple.
    feed(&mut conv, "[[3,1]]", "[3,1800000,1]");
    check(
        "powersensor",
        Some(1e-300),
        "[[1,1],[2,1e300]]",
        "primed nonfinite",
    );
}

#[test]
fn refreshed_metadata_keeps_the_state() {
    let power = definition("power").unwrap();
    let mut conv = converter("power", Some(1000.0));
    feed(&mut conv, "[[0,1]]", "primed");
    conv.update_params(ChannelParams::new(power, Some(500.0)))
        .unwrap();
    assert_eq!(conv.params().resolution, 500.0);
    feed(&mut conv, "[[1000,1]]", "[1000,7200,1]");

    // A group type is refused and changes nothing.
    let group = ChannelParams::new(definition("group").unwrap(), None);
    assert_eq!(conv.update_params(group), Err(ConvertError::Group));
    assert_eq!(conv.params().interpreter, Interpreter::Impulse);
    feed(&mut conv, "[[2000,1]]", "[2000,7200,1]");

    // A different interpreter starts over.
    let meter = ChannelParams::new(definition("electric meter").unwrap(), Some(1000.0));
    conv.update_params(meter).unwrap();
    assert_eq!(conv.last_ts(), None);
    feed(&mut conv, "[[3000,10],[4000,11]]", "primed [4000,3600,1]");
}

#[test]
fn default_resolution_is_one() {
    let params = ChannelParams::new(definition("temperature").unwrap(), None);
    assert_eq!(
        params,
        ChannelParams {
            interpreter: Interpreter::Sensor,
            scale: 1.0,
            resolution: 1.0
        }
    );
}
