//! The property patterns in plain words, for validation messages: a user who typed a title
//! should read which characters a title may hold, not a PHP regular expression.
//!
//! Keyed by the pattern's PHP source as the embedded definitions write it; a test checks that
//! every pattern there has its words, so a new pattern cannot fall back to the raw regex
//! unnoticed. The words describe what the pattern accepts, quirks included: `\w` under the
//! `u` flag is any letter or digit of any script, and the `color` pattern's anchors bind only
//! to its first and last alternative.

/// What a value matching the PHP pattern `source` looks like, phrased to follow the property
/// key ("title may contain …"); `None` for a pattern this table does not know.
pub(crate) fn describe(source: &str) -> Option<&'static str> {
    let words = match source {
        // title
        r"/^[\w\.\-\,()äöü\]\[!&*+\/:@ ]+$/u" => {
            "may contain letters and digits (of any script), spaces and _ . - , ( ) [ ] ! & * + / : @, and must not be empty"
        }
        // owner
        r"/^[\w\-]+$/u" => {
            "may contain letters and digits (of any script), _ and -, but no spaces, and must not be empty"
        }
        // address:city
        r"/^[\w\.\-\,() ]+$/u" => {
            "may contain letters and digits (of any script), spaces and _ . - , ( ), and must not be empty"
        }
        // photo, link, local
        r"#^(https?|ftp)://[a-z0-9-.]+\.[a-z]{2,6}(/\S*)?$#i" => {
            "must be an http://, https:// or ftp:// address of a host name that ends in a domain such as .org (no IP address, no port), optionally followed by a path without spaces, like https://volkszaehler.org/"
        }
        // color
        r"#^aqua|black|blue|fuchsia|gray|grey|green|lime|maroon|navy|olive|purple|red|silver|teal|white|yellow|[0-9a-f]{6}|[0-9a-f]{3}$#i" => {
            "must be a CSS colour: one of the names aqua, black, blue, fuchsia, gray, grey, green, lime, maroon, navy, olive, purple, red, silver, teal, white, yellow, or a hex code like #ff0000 or #f00"
        }
        // unit
        r"#^[\w°%µ€\$/²³]+$#u" => {
            "may contain letters and digits (of any script), _ and ° % µ € $ / ² ³, but no spaces, and must not be empty"
        }
        // in1 … in4 (the inputs of a virtual channel)
        r"/^[0-9a-zA-Z]{8}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{12}$/" => {
            "must be a channel UUID: 8-4-4-4-12 letters or digits, like 9ff4a200-0599-11e6-9d64-dd628ac55cb4"
        }
        _ => return None,
    };
    Some(words)
}
