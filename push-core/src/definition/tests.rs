use super::*;

const CHANNEL_BASE_LIST: &str = "public active color style fillstyle linestyle linewidth yaxis description owner address: link gap";
const AGGREGATOR_BASE_LIST: &str = "public active color description owner address: link";

/// Checks a type's facts; `required`/`optional` are space-separated effective lists.
fn check(name: &str, facts: (Interpreter, f64, Option<&str>), required: &str, optional: &str) {
    let def = definition(name).unwrap_or_else(|| panic!("{name} is defined"));
    let (interpreter, scale, unit) = facts;
    assert_eq!(def.name(), name);
    assert_eq!(def.interpreter(), interpreter, "{name}");
    assert_eq!(def.scale(), scale, "{name}");
    assert_eq!(def.unit(), unit, "{name}");
    assert_eq!(def.required().join(" "), required, "{name} required");
    assert_eq!(def.optional().join(" "), optional, "{name} optional");
}

#[test]
fn all_38_types_load_in_file_order() {
    let names: Vec<&str> = definitions().iter().map(|d| d.name()).collect();
    assert_eq!(names.len(), 38);
    assert_eq!(
        &names[..6],
        [
            "group",
            "building",
            "user",
            "power",
            "powersensor",
            "electric meter"
        ]
    );
    assert_eq!(&names[36..], ["co2 concentration", "particulate matter"]);
    assert!(definition("Power").is_none());
    assert!(definition("electricmeter").is_none());
}

#[test]
fn interpreters_by_type() {
    let of = |i: Interpreter| -> Vec<&str> {
        definitions()
            .iter()
            .filter(|d| d.interpreter() == i)
            .map(|d| d.name())
            .collect()
    };
    assert_eq!(of(Interpreter::Aggregator), ["group", "building", "user"]);
    assert_eq!(
        of(Interpreter::Impulse),
        [
            "power",
            "gas",
            "heat",
            "water",
            "workinghours",
            "universalcounter"
        ]
    );
    assert_eq!(
        of(Interpreter::Accumulator),
        [
            "electric meter",
            "gas meter",
            "heattotal",
            "watertotal",
            "workinghourstotal"
        ]
    );
    assert_eq!(
        of(Interpreter::Virtual),
        ["virtualsensor", "virtualconsumption"]
    );
    assert_eq!(of(Interpreter::Sensor).len(), 22);
}

#[test]
fn models_and_classes() {
    for d in definitions() {
        let group = d.interpreter() == Interpreter::Aggregator;
        assert_eq!(d.model() == Model::Aggregator, group, "{}", d.name());
        assert_eq!(d.class(), if group { "aggregator" } else { "channel" });
    }
}

#[test]
fn group_lists() {
    let facts = (Interpreter::Aggregator, 1.0, None);
    check("group", facts, "title", AGGREGATOR_BASE_LIST);
    check("building", facts, "title", AGGREGATOR_BASE_LIST);
}

#[test]
fn impulse_and_accumulator_lists_include_consumption_extras() {
    let with_consumption = format!("{CHANNEL_BASE_LIST} initialconsumption cost");
    check(
        "power",
        (Interpreter::Impulse, 1000.0, Some("W")),
        "title resolution",
        &with_consumption,
    );
    check(
        "electric meter",
        (Interpreter::Accumulator, 1000.0, Some("W")),
        "title resolution",
        &with_consumption,
    );
    check(
        "gas",
        (Interpreter::Impulse, 1.0, Some("m³/h")),
        "title resolution",
        &with_consumption,
    );
    check(
        "gas sensor",
        (Interpreter::Sensor, 1.0, Some("m³/h")),
        "title resolution",
        &with_consumption,
    );
    check(
        "powersensor",
        (Interpreter::Sensor, 1000.0, Some("W")),
        "title",
        &format!("{with_consumption} resolution"),
    );
    check(
        "universalcounter",
        (Interpreter::Impulse, 1.0, None),
        "title unit",
        &format!("{with_consumption} resolution"),
    );
}

#[test]
fn repeated_keys_are_listed_once() {
    // The file lists `gap` twice for the working-hours types.
    let expect = format!("{CHANNEL_BASE_LIST} initialconsumption cost tolerance local");
    check(
        "workinghours",
        (Interpreter::Impulse, 1.0, Some("")),
        "title resolution",
        &expect,
    );
    check(
        "workinghourstotal",
        (Interpreter::Accumulator, 1.0, Some("")),
        "title resolution",
        &expect,
    );
}

#[test]
fn sensor_and_virtual_lists() {
    let sensor = (Interpreter::Sensor, 1.0, Some("°C"));
    check(
        "temperature",
        sensor,
        "title",
        &format!("{CHANNEL_BASE_LIST} resolution"),
    );
    check(
        "filllevel",
        (Interpreter::Sensor, 1.0, Some("l")),
        "title",
        &format!("{CHANNEL_BASE_LIST} resolution tolerance cost local"),
    );
    check(
        "co2 concentration",
        (Interpreter::Sensor, 1.0, Some("ppm")),
        "title",
        CHANNEL_BASE_LIST,
    );
    check(
        "particulate matter",
        (Interpreter::Sensor, 1.0, Some("µg/m³")),
        "title",
        CHANNEL_BASE_LIST,
    );
    check(
        "virtualsensor",
        (Interpreter::Virtual, 1.0, None),
        "title unit rule in1",
        &format!("{CHANNEL_BASE_LIST} in2 in3 in4"),
    );
    check(
        "virtualconsumption",
        (Interpreter::Virtual, 1.0, None),
        "title unit rule in1",
        &format!("{CHANNEL_BASE_LIST} initialconsumption cost in2 in3 in4"),
    );
}

#[test]
fn frontend_hints_and_translations() {
    let power = definition("power").unwrap();
    assert_eq!(
        (power.style(), power.icon(), power.has_consumption()),
        (Some("steps"), "bolt.png", true)
    );
    assert_eq!(power.translation("de"), Some("El. Energie (S0-Impulse)"));
    assert_eq!(power.translation("fr"), None);
    let pm = definition("particulate matter").unwrap();
    assert_eq!(
        (pm.style(), pm.icon(), pm.has_consumption()),
        (None, "", false)
    );
    assert_eq!(
        definition("workinghourssensor").unwrap().style(),
        Some("states")
    );
    assert_eq!(definition("workinghourssensor").unwrap().scale(), 1000.0);
}

#[test]
fn allows_compares_keys_exactly() {
    let power = definition("power").unwrap();
    for key in ["title", "resolution", "cost", "gap", "address:", "yaxis"] {
        assert!(power.allows(key), "{key}");
    }
    for key in ["address:lat", "tolerance", "unit", "Title", "photo", ""] {
        assert!(!power.allows(key), "{key}");
    }
    assert!(
        !definition("co2 concentration")
            .unwrap()
            .allows("resolution")
    );
    assert!(!definition("group").unwrap().allows("style"));
}

#[test]
fn validate_property_checks_definition_then_type_then_value() {
    let power = definition("power").unwrap();
    assert_eq!(
        power.validate_property("resolution", "1000"),
        Ok(PropertyValue::Float(1000.0))
    );
    assert_eq!(
        power.validate_property("public", "yes"),
        Ok(PropertyValue::Boolean(true))
    );
    assert_eq!(
        power.validate_property("address:lat", "50.1"),
        Err(PropertyError::NotAllowed {
            key: "address:lat".into(),
            entity_type: "power".into()
        })
    );
    assert_eq!(
        power.validate_property("unit", "W"),
        Err(PropertyError::NotAllowed {
            key: "unit".into(),
            entity_type: "power".into()
        })
    );
    assert_eq!(
        power.validate_property("address:", "x"),
        Err(PropertyError::Unknown {
            key: "address:".into()
        })
    );
    assert_eq!(
        power.validate_property("colour", "red"),
        Err(PropertyError::Unknown {
            key: "colour".into()
        })
    );
    assert_eq!(
        power.validate_property("resolution", "0"),
        Err(PropertyError::Invalid {
            key: "resolution".into(),
            value: "0".into(),
            reason: "must be at least 0.000001".into()
        })
    );
    let err = power.validate_property("address:lat", "1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "property 'address:lat' is not allowed for entity type 'power'"
    );
}

#[test]
fn check_required_lists_every_missing_key() {
    let virt = definition("virtualsensor").unwrap();
    assert_eq!(
        virt.check_required(["title", "unit", "rule", "in1", "in2"]),
        Ok(())
    );
    assert_eq!(
        virt.check_required(["unit", "in2"]),
        Err(PropertyError::MissingRequired {
            entity_type: "virtualsensor".into(),
            keys: vec!["title".into(), "rule".into(), "in1".into()],
        })
    );
    let power = definition("power").unwrap();
    let props = ["title".to_owned()];
    let err = power
        .check_required(props.iter().map(String::as_str))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "entity type 'power' requires the properties: resolution"
    );
    assert_eq!(
        definition("group").unwrap().check_required(["title"]),
        Ok(())
    );
}
