//! PHP's `filter_var` validators for integer, float and boolean property values.
//!
//! Property values arrive as text (HTTP parameters) and volkszaehler accepts exactly what
//! `FILTER_VALIDATE_INT`, `FILTER_VALIDATE_FLOAT` and `FILTER_VALIDATE_BOOLEAN` (null on failure)
//! accept. Reproducing those rules keeps a request that worked against the PHP middleware
//! working here, and one that failed failing.

/// Strips the characters PHP's filters trim: space, `\t`, `\r`, `\v` and `\n` (not `\f`, not NUL).
fn trim(raw: &str) -> &str {
    raw.trim_matches([' ', '\t', '\r', '\u{b}', '\n'])
}

/// `FILTER_VALIDATE_INT`: optional sign, then `0` or a digit string without leading zeros.
///
/// `"+0"` and `"-0"` are accepted (PHP special-cases them); `"007"`, `"1.0"`, `"1e3"` and values
/// outside `i64` are not.
pub(crate) fn int(raw: &str) -> Option<i64> {
    let s = trim(raw);
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let canonical = digits == "0"
        || (digits.starts_with(|c: char| matches!(c, '1'..='9'))
            && digits.bytes().all(|b| b.is_ascii_digit()));
    if !canonical {
        return None;
    }
    // A bare sign with "0" is fine for `parse`; overflow makes it fail, as it does in PHP.
    s.parse().ok()
}

/// `FILTER_VALIDATE_FLOAT` (no thousands separator, `.` as decimal point).
///
/// Accepts `[+-]` then digits with an optional fraction (`1.`, `.5`, `1.5`) and an optional
/// exponent (`1e3`, `2.5E-7`). Rejects hex, `inf`/`nan`, results that overflow to infinity and
/// zero results from strings containing a non-zero digit (PHP's underflow check), as PHP does.
pub(crate) fn float(raw: &str) -> Option<f64> {
    let s = trim(raw);
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int_part)
        || !all_digits(frac_part)
        || (int_part.is_empty() && frac_part.is_empty())
    {
        return None;
    }
    if let Some(exp) = exponent {
        let exp_digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        if exp_digits.is_empty() || !all_digits(exp_digits) {
            return None;
        }
    }
    let value: f64 = s.parse().ok()?;
    // PHP's check looks for a non-zero digit anywhere, exponent included, so it also rejects
    // a harmless "0e5"; we keep that to accept exactly the same strings.
    let underflowed = value == 0.0 && unsigned.bytes().any(|b| matches!(b, b'1'..=b'9'));
    (value.is_finite() && !underflowed).then_some(value)
}

/// `FILTER_VALIDATE_BOOLEAN` with `FILTER_NULL_ON_FAILURE`: `None` means "not a boolean".
pub(crate) fn boolean(raw: &str) -> Option<bool> {
    let s = trim(raw);
    const TRUE: [&str; 4] = ["1", "true", "on", "yes"];
    const FALSE: [&str; 5] = ["0", "false", "off", "no", ""];
    if TRUE.iter().any(|t| t.eq_ignore_ascii_case(s)) {
        Some(true)
    } else if FALSE.iter().any(|f| f.eq_ignore_ascii_case(s)) {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_int(raw: &str, expect: Option<i64>) {
        assert_eq!(int(raw), expect, "int {raw:?}");
    }

    fn check_float(raw: &str, expect: Option<f64>) {
        assert_eq!(float(raw), expect, "float {raw:?}");
    }

    fn check_bool(raw: &str, expect: Option<bool>) {
        assert_eq!(boolean(raw), expect, "boolean {raw:?}");
    }

    #[test]
    fn integers() {
        check_int("0", Some(0));
        check_int("+0", Some(0));
        check_int("-0", Some(0));
        check_int("7", Some(7));
        check_int("-12", Some(-12));
        check_int("+12", Some(12));
        check_int(" 10\n", Some(10));
        check_int("\t\r\u{b}5", Some(5));
        check_int("9223372036854775807", Some(i64::MAX));
        check_int("-9223372036854775808", Some(i64::MIN));
        check_int("9223372036854775808", None);
        check_int("007", None);
        check_int("00", None);
        check_int("1.0", None);
        check_int("1e3", None);
        check_int("0x1A", None);
        check_int("", None);
        check_int("  ", None);
        check_int("-", None);
        check_int("1 2", None);
        check_int("\u{c}1", None);
        check_int("١", None);
    }

    #[test]
    fn floats() {
        check_float("0", Some(0.0));
        check_float("1000", Some(1000.0));
        check_float("0.000001", Some(0.000001));
        check_float("-2.5", Some(-2.5));
        check_float("+2.5", Some(2.5));
        check_float("1.", Some(1.0));
        check_float(".5", Some(0.5));
        check_float("1e3", Some(1000.0));
        check_float("2.5E-7", Some(2.5e-7));
        check_float("1e+2", Some(100.0));
        check_float(" 3.25 ", Some(3.25));
        check_float("007", Some(7.0));
        check_float("1e-400", None);
        check_float("0e0", Some(0.0));
        check_float("0e5", None);
        check_float("1e400", None);
        check_float(".", None);
        check_float("", None);
        check_float("e5", None);
        check_float("1e", None);
        check_float("1e+", None);
        check_float("1,5", None);
        check_float("0x10", None);
        check_float("inf", None);
        check_float("NaN", None);
        check_float("1.2.3", None);
        check_float("--1", None);
    }

    #[test]
    fn booleans() {
        for t in ["1", "true", "TRUE", "On", "yes", " yes "] {
            check_bool(t, Some(true));
        }
        for f in ["0", "false", "False", "OFF", "no", "", "  "] {
            check_bool(f, Some(false));
        }
        for bad in ["2", "y", "n", "truee", "-1", "null"] {
            check_bool(bad, None);
        }
    }
}
