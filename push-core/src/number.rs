//! Floats written the way PHP 8's `json_encode` writes them (spec 2.6, decision 6).
//!
//! PHP (with `serialize_precision = -1`) prints the shortest digits that round-trip, drops the
//! fraction of integral values (`2.0` → `2`) and switches to exponent form only for very large or
//! very small magnitudes (`1.0e+17`, `1.0e-5`). Clients such as Node-RED flows or typed
//! consumers see exactly what the PHP push-server sent, which `serde_json` (`2.0`, `1e17`) would
//! not give.
//!
//! The digits come from the standard library's `{:e}` formatting, which is already the shortest
//! round-trip representation; only the layout is PHP's.

use std::fmt::Write;

/// Decimal exponent from which PHP switches to exponent form (`decpt > 17` in `zend_gcvt`).
const EXP_FORM_FROM: i32 = 17;
/// Decimal exponents below this use exponent form (`0.0001` stays decimal, `0.00001` does not).
const EXP_FORM_BELOW: i32 = -4;

/// Appends `v` to `out` in PHP's JSON number format.
///
/// Non-finite values have no JSON form; PHP's `json_encode` fails on them. Callers are expected
/// never to pass them (conversion reports them as `Outcome::NonFinite` instead), but should one
/// slip through, `null` is written so the output stays valid JSON.
pub fn write_f64(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push_str("null");
        return;
    }
    // Fast path for the common case (millisecond timestamps, whole watts): an integral value
    // well inside i64 and below the exponent threshold prints as a plain integer.
    if v.fract() == 0.0 && v.abs() < 1e15 {
        if v == 0.0 && v.is_sign_negative() {
            out.push_str("-0");
        } else {
            // Exact: integral and |v| < 1e15 < 2^63.
            let _ = write!(out, "{}", v as i64);
        }
        return;
    }

    let mut buf = StackBuf::new();
    // `{:e}` yields e.g. "-1.8947368421052633e2"; writing into a 32-byte buffer cannot fail
    // because the longest f64 form ("-2.2250738585072014e-308") is 24 bytes.
    let _ = write!(buf, "{v:e}");
    let text = buf.as_str();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exp) = text.split_once('e').unwrap_or((text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (first, rest) = mantissa.split_once('.').unwrap_or((mantissa, ""));

    if negative {
        out.push('-');
    }
    if !(EXP_FORM_BELOW..EXP_FORM_FROM).contains(&exp) {
        out.push_str(first);
        out.push('.');
        out.push_str(if rest.is_empty() { "0" } else { rest });
        out.push_str(if exp < 0 { "e-" } else { "e+" });
        let _ = write!(out, "{}", exp.unsigned_abs());
    } else if exp >= 0 {
        // Digits "d1 d2 d3 ..." with the point after exp + 1 of them.
        let int_len = exp as usize + 1;
        out.push_str(first);
        if rest.len() < int_len - 1 {
            out.push_str(rest);
            out.extend(std::iter::repeat_n('0', int_len - 1 - rest.len()));
        } else {
            let (int_rest, frac) = rest.split_at(int_len - 1);
            out.push_str(int_rest);
            if !frac.is_empty() {
                out.push('.');
                out.push_str(frac);
            }
        }
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(first);
        out.push_str(rest);
    }
}

/// Returns `v` in PHP's JSON number format; see [`write_f64`].
pub fn format_f64(v: f64) -> String {
    let mut out = String::with_capacity(24);
    write_f64(&mut out, v);
    out
}

/// A fixed-size text buffer so the `{:e}` digits need no heap allocation.
struct StackBuf {
    bytes: [u8; 32],
    len: usize,
}

impl StackBuf {
    fn new() -> Self {
        StackBuf {
            bytes: [0; 32],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in, so the prefix is valid UTF-8.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: f64, expect: &str) {
        assert_eq!(format_f64(v), expect, "formatting {v:?}");
    }

    #[test]
    fn integral_values_have_no_fraction() {
        check(0.0, "0");
        check(-0.0, "-0");
        check(1.0, "1");
        check(2.0, "2");
        check(-2.0, "-2");
        check(451.0, "451");
        check(3600.0, "3600");
        check(36_000_000.0, "36000000");
        check(1_700_000_000_000.0, "1700000000000");
        check(999_999_999_999_999.0, "999999999999999");
        check(1e15, "1000000000000000");
        check(1e16, "10000000000000000");
        check(-1e16, "-10000000000000000");
        check(12_345_678_901_234_567.0, "12345678901234568");
        check(9_007_199_254_740_993.0, "9007199254740992");
    }

    #[test]
    fn large_values_use_php_exponent_form() {
        check(1e17, "1.0e+17");
        check(-1e17, "-1.0e+17");
        check(1.5e20, "1.5e+20");
        check(1.2345e17, "1.2345e+17");
        check(1e100, "1.0e+100");
        check(f64::MAX, "1.7976931348623157e+308");
    }

    #[test]
    fn small_values_switch_below_one_ten_thousandth() {
        check(0.1, "0.1");
        check(0.001, "0.001");
        check(0.0001, "0.0001");
        check(0.000123, "0.000123");
        check(0.00001, "1.0e-5");
        check(0.000001, "1.0e-6");
        check(-2.5e-7, "-2.5e-7");
        check(1.2345e-5, "1.2345e-5");
        check(5e-324, "5.0e-324");
        check(f64::MIN_POSITIVE, "2.2250738585072014e-308");
    }

    #[test]
    fn fractions_use_shortest_round_trip_digits() {
        check(21.75, "21.75");
        check(-21.75, "-21.75");
        check(0.5, "0.5");
        check(660.9000000000001, "660.9000000000001");
        check(189.47368421052633, "189.47368421052633");
        check(3600.0000000000005, "3600.0000000000005");
        check(3600.0 / 7.0, "514.2857142857143");
        check(0.1 + 0.2, "0.30000000000000004");
        check(1e15 + 0.5, "1000000000000000.5");
        check(1234567890123.456, "1234567890123.456");
        check(1.7000000000005e12, "1700000000000.5");
    }

    #[test]
    fn non_finite_values_become_null() {
        check(f64::NAN, "null");
        check(f64::INFINITY, "null");
        check(f64::NEG_INFINITY, "null");
    }

    #[test]
    fn write_appends() {
        let mut out = String::from("[");
        write_f64(&mut out, 2.0);
        out.push(',');
        write_f64(&mut out, 1e17);
        out.push(']');
        assert_eq!(out, "[2,1.0e+17]");
    }
}
