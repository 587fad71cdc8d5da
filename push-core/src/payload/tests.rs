use super::*;

/// One line per channel: `UUID [t] [t]…` when valid, `#index UUID|-: message` when invalid.
fn summary(push: &Push) -> Vec<String> {
    push.channels
        .iter()
        .map(|entry| match entry {
            ChannelEntry::Valid(c) => {
                let mut line = c.uuid.clone();
                for t in &c.tuples {
                    line.push(' ');
                    t.write_json(&mut line);
                }
                line
            }
            ChannelEntry::Invalid(bad) => {
                let uuid = bad.uuid.as_deref().unwrap_or("-");
                format!("#{} {uuid}: {}", bad.index, bad.error)
            }
        })
        .collect()
}

fn check(body: &str, expect: &[&str]) {
    let push = parse(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"));
    assert_eq!(summary(&push), expect, "{body}");
}

fn check_err(body: &str, expect: PayloadError) {
    assert_eq!(parse(body.as_bytes()), Err(expect), "{body}");
}

#[test]
fn vzlogger_format() {
    // vzlogger's json-c output: spaced, two-element tuples, %.17g doubles.
    check(
        r#"{ "data": [ { "uuid": "9ff4a200-0599-11e6-9d64-dd628ac55cb4", "tuples": [ [ 1461528098234, 660.90000000000009 ] ] } ] }"#,
        &["9ff4a200-0599-11e6-9d64-dd628ac55cb4 [1461528098234,660.9000000000001,1]"],
    );
    check(
        r#"{"data":[{"uuid":"A","tuples":[[1,1,1],[2,2,1]]},{"uuid":"B","tuples":[[1700000000000.5,-3.25,4]]}]}"#,
        &["A [1,1,1] [2,2,1]", "B [1700000000000.5,-3.25,4]"],
    );
}

#[test]
fn data_and_tuples_may_be_objects_in_document_order() {
    check(
        r#"{"data":{"z":{"uuid":"Z","tuples":[[1,2]]},"a":{"uuid":"A","tuples":{"9":[3,4],"10":[5,6]}}}}"#,
        &["Z [1,2,1]", "A [3,4,1] [5,6,1]"],
    );
    // Tuple objects are read by key, as PHP's arrays are.
    check(
        r#"{"data":[{"uuid":"U","tuples":[{"0":1,"1":2},{"1":4,"0":3,"2":5}]}]}"#,
        &["U [1,2,1] [3,4,5]"],
    );
    check(
        r#"{"data":[{"uuid":"U","tuples":[{"0":1,"01":2}]}]}"#,
        &[r#"#0 U: tuple 0 must be an array (or an object with keys "0", "1", …), found object"#],
    );
    check(
        r#"{"data":[{"uuid":"U","tuples":[{"0":1,"2":2}]}]}"#,
        &[r#"#0 U: tuple 0 must be an array (or an object with keys "0", "1", …), found object"#],
    );
    check(
        r#"{"data":[{"uuid":"U","tuples":[{"a":1,"b":2}]}]}"#,
        &[r#"#0 U: tuple 0 must be an array (or an object with keys "0", "1", …), found object"#],
    );
}

#[test]
fn numbers_keep_their_kind_and_numeric_strings_are_coerced() {
    check(
        r#"{"data":[{"uuid":"U","tuples":[[1,2.0],[3,"5"],[4," 2.5 "],[5,"1e3"],[6,"-7",".5"],[7,18446744073709551615]]}]}"#,
        &["U [1,2,1] [3,5,1] [4,2.5,1] [5,1000,1] [6,-7,0.5] [7,1.8446744073709552e+19,1]"],
    );
    assert_eq!(numeric_str("+5"), Some(Num::Int(5)));
    assert_eq!(numeric_str("5."), Some(Num::Float(5.0)));
    assert_eq!(
        numeric_str("\t9223372036854775808\n"),
        Some(Num::Float(9223372036854775808.0))
    );
    for bad in [
        "", " ", "5 apples", "abc", "0x1A", "1e", "1e999", ".", "-", "inf", "NaN", "1,5", "١",
    ] {
        assert_eq!(numeric_str(bad), None, "{bad:?}");
    }
}

#[test]
fn bad_elements_reject_the_whole_channel_only() {
    check(
        r#"{"data":[
            {"uuid":"A","tuples":[[1,1],[2,null]]},
            {"uuid":"B","tuples":[[1,"5 apples"]]},
            {"uuid":"C","tuples":[[1,true]]},
            {"uuid":"D","tuples":[[[1],2]]},
            {"uuid":"E","tuples":[[1,2,{}]]},
            {"uuid":"F","tuples":[[1,2]]}
        ]}"#,
        &[
            "#0 A: tuple 1 element 1 is not numeric: null",
            r#"#1 B: tuple 0 element 1 is not numeric: string "5 apples""#,
            "#2 C: tuple 0 element 1 is not numeric: boolean",
            "#3 D: tuple 0 element 0 is not numeric: array",
            "#4 E: tuple 0 element 2 is not numeric: object",
            "F [1,2,1]",
        ],
    );
    let long = "x".repeat(40);
    check(
        &format!(r#"{{"data":[{{"uuid":"U","tuples":[[1,"{long}"]]}}]}}"#),
        &[&format!(
            r#"#0 U: tuple 0 element 1 is not numeric: string "{}"…"#,
            "x".repeat(32)
        )],
    );
}

#[test]
fn entry_errors() {
    check(
        r#"{"data":[
            "U",
            {"tuples":[[1,2]]},
            {"uuid":null,"tuples":[[1,2]]},
            {"uuid":5,"tuples":[[1,2]]},
            {"uuid":"A"},
            {"uuid":"B","tuples":null},
            {"uuid":"C","tuples":"[[1,2]]"},
            {"uuid":"D","tuples":[]},
            {"uuid":"E","tuples":{}},
            {"uuid":"F","tuples":[5]},
            {"uuid":"G","tuples":[[1]]},
            {"uuid":"H","tuples":[[]]}
        ]}"#,
        &[
            "#0 -: channel entry must be an object, found string",
            r#"#1 -: "uuid" is missing or null"#,
            r#"#2 -: "uuid" is missing or null"#,
            r#"#3 -: "uuid" must be a string, found number"#,
            r#"#4 A: "tuples" is missing or null"#,
            r#"#5 B: "tuples" is missing or null"#,
            r#"#6 C: "tuples" must be an array or an object, found string"#,
            r#"#7 D: "tuples" is empty"#,
            r#"#8 E: "tuples" is empty"#,
            r#"#9 F: tuple 0 must be an array (or an object with keys "0", "1", …), found number"#,
            "#10 G: tuple 0 has 1 element(s), needs at least 2 (timestamp and value)",
            "#11 H: tuple 0 has 0 element(s), needs at least 2 (timestamp and value)",
        ],
    );
}

#[test]
fn order_repeats_and_extra_keys() {
    // The same UUID twice gives two entries; unknown keys are ignored; the last repeated key wins.
    check(
        r#"{"version":"x","data":[{"uuid":"U","tuples":[[1,2]],"extra":[null]},{"uuid":"U","uuid":"V","tuples":[[3,4]]},{"uuid":"U","tuples":[[5,6]]}]}"#,
        &["U [1,2,1]", "V [3,4,1]", "U [5,6,1]"],
    );
    check(r#"{"data":[{"uuid":"U","tuples":[[1,2]]}],"data":[]}"#, &[]);
    check(r#"{"data":[]}"#, &[]);
    check(r#"{"data":{}}"#, &[]);
    // Escaped strings are decoded.
    check(
        r#"{"data":[{"uuid":"a\/b\u00e4","tuples":[[1,2]]}]}"#,
        &["a/bä [1,2,1]"],
    );
}

#[test]
fn whole_request_errors() {
    check_err(
        "",
        PayloadError::InvalidJson {
            line: 1,
            column: 0,
            message: "EOF while parsing a value".into(),
        },
    );
    check_err(
        "{\"data\":\n[1,}",
        PayloadError::InvalidJson {
            line: 2,
            column: 4,
            message: "expected value".into(),
        },
    );
    check_err(
        "{} x",
        PayloadError::InvalidJson {
            line: 1,
            column: 4,
            message: "trailing characters".into(),
        },
    );
    check_err("null", PayloadError::NotAnObject { found: "null" });
    check_err("[]", PayloadError::NotAnObject { found: "array" });
    check_err(
        r#"[{"data":[]}]"#,
        PayloadError::NotAnObject { found: "array" },
    );
    check_err(r#""data""#, PayloadError::NotAnObject { found: "string" });
    check_err("5", PayloadError::NotAnObject { found: "number" });
    check_err("{}", PayloadError::MissingData);
    check_err(r#"{"data":null}"#, PayloadError::MissingData);
    check_err(r#"{"Data":[]}"#, PayloadError::MissingData);
    check_err(
        r#"{"data":"x"}"#,
        PayloadError::DataNotList { found: "string" },
    );
    check_err(
        r#"{"data":7}"#,
        PayloadError::DataNotList { found: "number" },
    );
    let err = parse(b"{").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid JSON at line 1 column 1: EOF while parsing an object"
    );
    assert_eq!(
        PayloadError::DataNotList { found: "string" }.to_string(),
        "\"data\" must be an array or an object, found string"
    );
}

#[test]
fn uuid_check_is_lenient_like_volkszaehler() {
    let cases = [
        ("9ff4a200-0599-11e6-9d64-dd628ac55cb4", true),
        ("9FF4A200-0599-11E6-9D64-DD628AC55CB4", true),
        ("9ff4a200059911e69d64dd628ac55cb4", true),
        ("{9ff4a200-0599-11e6-9d64-dd628ac55cb4}", true),
        ("urn:uuid:9ff4a200-0599-11e6-9d64-dd628ac55cb4", true),
        ("URN:UUID:9ff4a200-0599-11e6-9d64-dd628ac55cb4", true),
        // Non-hex characters are simply dropped.
        ("9ff4a200-0599-11e6-9d64-dd628ac55cb4-xyz", true),
        ("9ff4a200-0599-11e6-9d64-dd628ac55cb", false),
        ("9ff4a200-0599-11e6-9d64-dd628ac55cb4a", false),
        // Without the prefix being stripped, the "d" of "uuid" would count.
        ("urn:uuid:9ff4a200-0599-11e6-9d64-dd628ac55cb", false),
        ("not a uuid", false),
        ("", false),
        // Exactly 16 bytes: a raw binary UUID.
        ("0123456789abcdef", true),
    ];
    for (s, expect) in cases {
        assert_eq!(is_valid_uuid(s), expect, "{s:?}");
    }
}
