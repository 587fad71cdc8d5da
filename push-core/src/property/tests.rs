use super::*;

/// Validates `raw` for property `key`; `expect` is the typed value or the rejection reason.
fn check(key: &str, raw: &str, expect: Result<PropertyValue, &str>) {
    let def = property_definition(key).unwrap_or_else(|| panic!("{key} is defined"));
    let got = def.validate(raw);
    match (got, expect) {
        (Ok(got), Ok(want)) => assert_eq!(got, want, "{key}={raw:?}"),
        (
            Err(PropertyError::Invalid {
                key: k,
                value,
                reason,
            }),
            Err(want),
        ) => {
            assert_eq!((k.as_str(), value.as_str()), (key, raw));
            assert_eq!(reason, want, "{key}={raw:?}");
        }
        (got, want) => panic!("{key}={raw:?}: got {got:?}, want {want:?}"),
    }
}

fn ok_str(s: &str) -> Result<PropertyValue, &'static str> {
    Ok(PropertyValue::String(s.to_owned()))
}

#[test]
fn all_32_definitions_load_in_file_order() {
    let names: Vec<&str> = property_definitions().iter().map(|p| p.name()).collect();
    assert_eq!(names.len(), 32);
    assert_eq!(&names[..4], ["title", "description", "public", "owner"]);
    assert_eq!(&names[28..], ["in1", "in2", "in3", "in4"]);
    let resolution = property_definition("resolution").unwrap();
    assert_eq!(resolution.kind(), PropertyType::Float);
    assert_eq!(resolution.min(), Some(0.000001));
    assert_eq!(resolution.max(), None);
    assert_eq!(resolution.translation("de"), Some("Auflösung"));
    assert_eq!(
        property_definition("address:state")
            .unwrap()
            .options()
            .len(),
        189
    );
    assert_eq!(
        property_definition("unit").unwrap().pattern(),
        Some("#^[\\w°%µ€\\$/²³]+$#u")
    );
    assert!(property_definition("Title").is_none());
    assert!(property_definition("address:").is_none());
}

#[test]
fn title_pattern() {
    check("title", "Küche 1", ok_str("Küche 1"));
    check(
        "title",
        "Zähler [EG] (alt), 1.5: a+b & c@d/e!*",
        ok_str("Zähler [EG] (alt), 1.5: a+b & c@d/e!*"),
    );
    check("title", "Ω_unicode", ok_str("Ω_unicode"));
    let reason = "may contain letters and digits (of any script), spaces and _ . - , ( ) [ ] ! & * + / : @, and must not be empty";
    check("title", "a<b", Err(reason));
    check("title", "", Err(reason));
    check("title", "50%", Err(reason));
    check("title", "a\"b", Err(reason));
    // PCRE's `$` also matches before one final newline.
    check("title", "Küche\n", ok_str("Küche\n"));
    check("title", &"x".repeat(255), ok_str(&"x".repeat(255)));
    check(
        "title",
        &"x".repeat(256),
        Err("must be at most 255 bytes long"),
    );
    // 128 × "ü" is 256 bytes.
    check(
        "title",
        &"ü".repeat(128),
        Err("must be at most 255 bytes long"),
    );
}

#[test]
fn owner_and_description() {
    check("owner", "max_mustermann-2", ok_str("max_mustermann-2"));
    check(
        "owner",
        "max mustermann",
        Err(
            "may contain letters and digits (of any script), _ and -, but no spaces, and must not be empty",
        ),
    );
    check(
        "description",
        "anything <b>goes</b>\n",
        ok_str("anything <b>goes</b>\n"),
    );
    check("description", "", ok_str(""));
}

#[test]
fn resolution_minimum_is_inclusive() {
    check("resolution", "0", Err("must be at least 0.000001"));
    check("resolution", "-1", Err("must be at least 0.000001"));
    check("resolution", "0.0000009", Err("must be at least 0.000001"));
    check("resolution", "0.000001", Ok(PropertyValue::Float(0.000001)));
    check("resolution", "1e-6", Ok(PropertyValue::Float(0.000001)));
    check("resolution", "1000", Ok(PropertyValue::Float(1000.0)));
    check("resolution", " 375 ", Ok(PropertyValue::Float(375.0)));
    check("resolution", "1,5", Err("must be a number"));
    check("resolution", "abc", Err("must be a number"));
}

#[test]
fn numeric_bounds() {
    check("linewidth", "0", Ok(PropertyValue::Integer(0)));
    check("linewidth", "10", Ok(PropertyValue::Integer(10)));
    check("linewidth", "11", Err("must be at most 10"));
    check("linewidth", "-1", Err("must be at least 0"));
    check("linewidth", "2.5", Err("must be an integer"));
    check("linewidth", "02", Err("must be an integer"));
    check("tolerance", "1", Ok(PropertyValue::Float(1.0)));
    check("tolerance", "1.01", Err("must be at most 1"));
    check("fillstyle", "0.5", Ok(PropertyValue::Float(0.5)));
    check("address:lat", "-90", Ok(PropertyValue::Float(-90.0)));
    check("address:lon", "90.5", Err("must be at most 90"));
    check("gap", "3600", Ok(PropertyValue::Integer(3600)));
    check("gap", "-5", Err("must be at least 0"));
    check(
        "address:postal",
        "-12345",
        Ok(PropertyValue::Integer(-12345)),
    );
    check("cost", "-0.29", Ok(PropertyValue::Float(-0.29)));
    check("initialconsumption", "-0.1", Err("must be at least 0"));
}

#[test]
fn booleans() {
    for t in ["1", "true", "on", "yes", "YES", " True "] {
        check("public", t, Ok(PropertyValue::Boolean(true)));
    }
    for f in ["0", "false", "off", "no", "", "No"] {
        check("active", f, Ok(PropertyValue::Boolean(false)));
    }
    let reason = "must be a boolean (1/0, true/false, on/off, yes/no)";
    check("public", "2", Err(reason));
    check("public", "maybe", Err(reason));
}

#[test]
fn multiple_choice_is_exact() {
    check("style", "steps", ok_str("steps"));
    check(
        "style",
        "bars",
        Err("must be one of lines, steps, states, points"),
    );
    check(
        "style",
        "Steps",
        Err("must be one of lines, steps, states, points"),
    );
    check("linestyle", "dotted", ok_str("dotted"));
    // yaxis options are strings: "1" is an option, 1 as a number does not exist here.
    check("yaxis", "1", ok_str("1"));
    check("yaxis", "auto", ok_str("auto"));
    check("yaxis", "5", Err("must be one of auto, 1, 2, 3, 4"));
    check("yaxis", "01", Err("must be one of auto, 1, 2, 3, 4"));
    check("address:state", "Germany", ok_str("Germany"));
    check(
        "address:state",
        "Atlantis",
        Err("must be one of the 189 listed options"),
    );
}

#[test]
fn unit_length_counts_bytes() {
    check("unit", "kWh/h", ok_str("kWh/h"));
    check("unit", "µg/h", ok_str("µg/h"));
    check("unit", "m³/h", ok_str("m³/h"));
    check("unit", "°C", ok_str("°C"));
    check("unit", "€", ok_str("€"));
    check("unit", "$", ok_str("$"));
    // "µ" and "³" are two bytes each: "µµm³" is 4 characters but 7 bytes.
    check("unit", "µµm³", Err("must be at most 5 bytes long"));
    // Even the `particulate matter` type's own unit (7 bytes) could not be stored as a property.
    check("unit", "µg/m³", Err("must be at most 5 bytes long"));
    check("unit", "kWh/hh", Err("must be at most 5 bytes long"));
    let unit = "may contain letters and digits (of any script), _ and ° % µ € $ / ² ³, but no spaces, and must not be empty";
    check("unit", "k W", Err(unit));
    check("unit", "", Err(unit));
}

#[test]
fn color_quirk_anchors_bind_to_outer_alternatives() {
    check("color", "red", ok_str("red"));
    check("color", "RED", ok_str("RED"));
    check("color", "#FF0000", ok_str("#FF0000"));
    check("color", "abc", ok_str("abc"));
    // `red` is an unanchored middle alternative, so any text containing it passes.
    check("color", "dark red shade", ok_str("dark red shade"));
    check("color", "aquamarine", ok_str("aquamarine"));
    let reason = "must be a CSS colour: one of the names aqua, black, blue, fuchsia, gray, grey, green, lime, maroon, navy, olive, purple, red, silver, teal, white, yellow, or a hex code like #ff0000 or #f00";
    check("color", "xyz", Err(reason));
    check("color", "orange", Err(reason));
    // `^aqua` is anchored at the start, `[0-9a-f]{3}$` at the end.
    check("color", "an aqua", Err(reason));
    check("color", "zz12", Err(reason));
    check("color", "zz123", ok_str("zz123"));
}

#[test]
fn urls_and_uuid_references() {
    let url = "must be an http://, https:// or ftp:// address of a host name that ends in a domain such as .org (no IP address, no port), optionally followed by a path without spaces, like https://volkszaehler.org/";
    check(
        "link",
        "https://volkszaehler.org/",
        ok_str("https://volkszaehler.org/"),
    );
    check(
        "link",
        "HTTP://Example.COM/a?b=c",
        ok_str("HTTP://Example.COM/a?b=c"),
    );
    check(
        "link",
        "ftp://host.example.de",
        ok_str("ftp://host.example.de"),
    );
    check("local", "http://192.168.1.10", Err(url));
    check("photo", "javascript:alert(1)", Err(url));
    check("link", "https://exämple.org", Err(url));
    let uuid_ref = "must be a channel UUID: 8-4-4-4-12 letters or digits, like 9ff4a200-0599-11e6-9d64-dd628ac55cb4";
    check(
        "in1",
        "9ff4a200-0599-11e6-9d64-dd628ac55cb4",
        ok_str("9ff4a200-0599-11e6-9d64-dd628ac55cb4"),
    );
    check("in4", "9ff4a200059911e69d64dd628ac55cb4", Err(uuid_ref));
}

#[test]
fn error_messages_name_key_value_and_reason() {
    let err = property_definition("resolution")
        .unwrap()
        .validate("0")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value \"0\" for property 'resolution': resolution must be at least 0.000001"
    );
    let missing = PropertyError::MissingRequired {
        entity_type: "power".into(),
        keys: vec!["title".into(), "resolution".into()],
    };
    assert_eq!(
        missing.to_string(),
        "entity type 'power' requires the properties: title, resolution"
    );
}

#[test]
fn db_text() {
    let cases = [
        (PropertyValue::Boolean(true), "1"),
        (PropertyValue::Boolean(false), "0"),
        (PropertyValue::Integer(-7), "-7"),
        (PropertyValue::Float(1000.0), "1000"),
        (PropertyValue::Float(0.000001), "1.0e-6"),
        (PropertyValue::Float(2.5), "2.5"),
        (PropertyValue::String("Küche".into()), "Küche"),
    ];
    for (value, expect) in cases {
        assert_eq!(value.to_db(), expect, "{value:?}");
    }
}

#[test]
fn every_pattern_is_described_in_words() {
    for definition in super::property_definitions() {
        if let Some(pattern) = definition.pattern() {
            assert!(
                super::words::describe(pattern).is_some(),
                "{}: no words for {pattern}",
                definition.name()
            );
        }
    }
}
