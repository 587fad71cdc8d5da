//! PHP (PCRE) property patterns, translated once into Rust regexes with the same meaning.
//!
//! The property definitions carry PHP-delimited patterns such as `/^[\w ]+$/u` or
//! `#^(https?|ftp)://…$#i`. Translating them (instead of retyping them) keeps the embedded JSON
//! the single source of truth. What PHP means, and what we therefore reproduce:
//! - the first character is the delimiter and the text after its last occurrence holds flags;
//!   `i` is case-insensitive, `u` turns on UTF-8 *and* Unicode classes (PHP sets PCRE's UCP with
//!   `u`, so `\w` matches `ä`). Any other flag is a data error, caught by the tests.
//! - without `u` PCRE works on bytes with ASCII classes, so such patterns run as byte regexes
//!   with Unicode disabled (`(?i)[a-z]` must not match the Kelvin sign).
//! - `$` (no `m`, no `D` flag) matches at the very end *or before a final newline*, so it
//!   becomes `(?:\n?\z)`. A title such as `"Küche\n"` passes in PHP and passes here.
//! - alternatives are not grouped: in `^aqua|…|[0-9a-f]{3}$` the anchors bind only to the first
//!   and last alternative, so any text *containing* `red` is a valid `color` (the spec's quirk).

use std::fmt;

/// A compiled property pattern together with its PHP source (for messages and for clients).
#[derive(Clone)]
pub(crate) struct Pattern {
    /// The PHP source, e.g. `/^[\w\-]+$/u`, kept to explain rejections.
    source: String,
    /// The matcher in the mode PHP would use.
    matcher: Matcher,
}

#[derive(Clone)]
enum Matcher {
    /// `u` patterns: Unicode-aware, on `&str`.
    Unicode(regex::Regex),
    /// Patterns without `u`: byte-wise with ASCII classes, like PCRE without UTF mode.
    Bytes(regex::bytes::Regex),
}

/// Why a PHP pattern could not be translated (only ever seen by tests: the data is embedded).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum PatternError {
    /// The pattern lacks a closing delimiter.
    #[error("pattern {0:?} has no closing delimiter")]
    Delimiter(String),
    /// A flag other than `i` or `u`.
    #[error("pattern {pattern:?} uses the unsupported flag {flag:?}")]
    Flag { pattern: String, flag: char },
    /// The translated body is not a valid Rust regex.
    #[error("pattern {pattern:?} does not compile: {reason}")]
    Compile { pattern: String, reason: String },
}

impl Pattern {
    /// Translates a PHP-delimited pattern.
    pub(crate) fn from_php(source: &str) -> Result<Pattern, PatternError> {
        let delimiter_error = || PatternError::Delimiter(source.to_owned());
        let delimiter = source.chars().next().ok_or_else(delimiter_error)?;
        let end = source.rfind(delimiter).ok_or_else(delimiter_error)?;
        let start = delimiter.len_utf8();
        if end < start {
            return Err(delimiter_error());
        }
        let body = translate_dollar(&source[start..end]);
        let (mut unicode, mut case_insensitive) = (false, false);
        for flag in source[end + start..].chars() {
            match flag {
                'u' => unicode = true,
                'i' => case_insensitive = true,
                _ => {
                    return Err(PatternError::Flag {
                        pattern: source.to_owned(),
                        flag,
                    });
                }
            }
        }
        let compile_error = |e: regex::Error| PatternError::Compile {
            pattern: source.to_owned(),
            reason: e.to_string(),
        };
        let matcher = if unicode {
            regex::RegexBuilder::new(&body)
                .case_insensitive(case_insensitive)
                .build()
                .map(Matcher::Unicode)
        } else {
            regex::bytes::RegexBuilder::new(&body)
                .unicode(false)
                .case_insensitive(case_insensitive)
                .build()
                .map(Matcher::Bytes)
        }
        .map_err(compile_error)?;
        Ok(Pattern {
            source: source.to_owned(),
            matcher,
        })
    }

    /// Whether `text` matches somewhere (PHP `preg_match` is an unanchored search too).
    pub(crate) fn is_match(&self, text: &str) -> bool {
        match &self.matcher {
            Matcher::Unicode(re) => re.is_match(text),
            Matcher::Bytes(re) => re.is_match(text.as_bytes()),
        }
    }

    /// The PHP source of the pattern.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

/// Rewrites every unescaped `$` outside a character class into PCRE's default end anchor.
fn translate_dollar(body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 8);
    let mut chars = body.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(escaped) = chars.next() {
                    out.push(escaped);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` right after `[` or `[^` is a literal member, in PCRE and in Rust.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '$' if !in_class => out.push_str(r"(?:\n?\z)"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, text: &str, expect: bool) {
        let p = Pattern::from_php(pattern).unwrap();
        assert_eq!(p.is_match(text), expect, "{pattern} on {text:?}");
    }

    #[test]
    fn dollar_is_translated_outside_classes_only() {
        assert_eq!(translate_dollar(r"^a$"), r"^a(?:\n?\z)");
        assert_eq!(
            translate_dollar(r"^[\w°%µ€\$/²³]+$"),
            r"^[\w°%µ€\$/²³]+(?:\n?\z)"
        );
        assert_eq!(translate_dollar(r"[$]x\$"), r"[$]x\$");
        assert_eq!(translate_dollar(r"[]$]$"), r"[]$](?:\n?\z)");
        assert_eq!(translate_dollar(r"[^]$]$"), r"[^]$](?:\n?\z)");
    }

    #[test]
    fn php_end_anchor_accepts_one_final_newline() {
        check("/^a$/", "a", true);
        check("/^a$/", "a\n", true);
        check("/^a$/", "a\n\n", false);
        check("/^a$/", "a\nb", false);
    }

    #[test]
    fn flags() {
        check("#^abc$#i", "ABC", true);
        check("#^abc$#", "ABC", false);
        check(r"/^\w+$/u", "Küche", true);
        // Without `u`, PCRE classes are ASCII and byte-wise.
        check(r"/^\w+$/", "Küche", false);
        check("#^[a-z]+$#i", "\u{212A}", false);
        check(r"#^\S+$#", "a\u{a0}b", true);
    }

    #[test]
    fn bad_patterns_are_reported() {
        assert_eq!(
            Pattern::from_php("/abc").unwrap_err(),
            PatternError::Delimiter("/abc".into())
        );
        assert_eq!(
            Pattern::from_php("/abc/x").unwrap_err(),
            PatternError::Flag {
                pattern: "/abc/x".into(),
                flag: 'x'
            }
        );
        assert!(matches!(
            Pattern::from_php("/(/").unwrap_err(),
            PatternError::Compile { .. }
        ));
    }
}
