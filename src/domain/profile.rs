//! Profile field rules: names, phone number and locale (docs/api.md#field-rules).
//!
//! Every function rejects strings containing U+0000 (docs/api.md#request-validation) before applying its own rule.

/// Message for a string containing U+0000.
pub const NUL_MESSAGE: &str = "String should not contain null characters";
/// Message for a blank required name.
pub const TOO_SHORT_MESSAGE: &str = "String should have at least 1 character";
/// Message for a name longer than [`MAX_NAME_CHARS`].
pub const TOO_LONG_MESSAGE: &str = "String should have at most 100 characters";
/// Message for an empty or blank phone number.
pub const PHONE_EMPTY_MESSAGE: &str = "Phone number cannot be empty";
/// Message for a phone number of the wrong shape.
pub const PHONE_FORMAT_MESSAGE: &str = "Invalid phone number format";
/// Message for any locale failure.
pub const LOCALE_MESSAGE: &str = "Unsupported locale";

/// Maximum length of `first_name` / `last_name` after trimming, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Maximum locale length, in characters.
pub const MAX_LOCALE_CHARS: usize = 10;
/// Supported locales, lower case.
pub const SUPPORTED_LOCALES: [&str; 5] = ["en", "it", "en-us", "en-gb", "it-it"];

/// Minimum number of digits after the leading `+` or `0` of a phone number.
const PHONE_MIN_DIGITS: usize = 8;
/// Maximum number of digits after the leading `+` or `0` of a phone number.
const PHONE_MAX_DIGITS: usize = 14;

/// Fails with [`NUL_MESSAGE`] when `raw` contains U+0000.
pub fn check_no_nul(raw: &str) -> Result<(), String> {
    if raw.contains('\0') {
        Err(NUL_MESSAGE.to_owned())
    } else {
        Ok(())
    }
}

/// `first_name`: trimmed, 1–100 characters.
pub fn parse_first_name(raw: &str) -> Result<String, String> {
    check_no_nul(raw)?;
    let trimmed = raw.trim();
    let len = trimmed.chars().count();
    if len == 0 {
        Err(TOO_SHORT_MESSAGE.to_owned())
    } else if len > MAX_NAME_CHARS {
        Err(TOO_LONG_MESSAGE.to_owned())
    } else {
        Ok(trimmed.to_owned())
    }
}

/// `last_name`: null allowed; trimmed; at most 100 characters; empty after trimming becomes `None`.
pub fn parse_last_name(raw: Option<&str>) -> Result<Option<String>, String> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    check_no_nul(raw)?;
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        Ok(None)
    } else if trimmed.chars().count() > MAX_NAME_CHARS {
        Err(TOO_LONG_MESSAGE.to_owned())
    } else {
        Ok(Some(trimmed.to_owned()))
    }
}

/// `phone_number` (docs/api.md#phone-numbers): null allowed; blank rejected; spaces (any whitespace), hyphens and
/// parentheses removed; the result must be `+` or `0` followed by 8–14 ASCII digits. Returns the cleaned form.
pub fn parse_phone_number(raw: Option<&str>) -> Result<Option<String>, String> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    check_no_nul(raw)?;
    if raw.trim().is_empty() {
        return Err(PHONE_EMPTY_MESSAGE.to_owned());
    }
    let cleaned: String = raw
        .chars()
        .filter(|c| !(c.is_whitespace() || matches!(c, '-' | '(' | ')')))
        .collect();
    let digits = cleaned
        .strip_prefix('+')
        .or_else(|| cleaned.strip_prefix('0'));
    let valid = digits.is_some_and(|d| {
        (PHONE_MIN_DIGITS..=PHONE_MAX_DIGITS).contains(&d.len())
            && d.bytes().all(|b| b.is_ascii_digit())
    });
    if valid {
        Ok(Some(cleaned))
    } else {
        Err(PHONE_FORMAT_MESSAGE.to_owned())
    }
}

/// `locale` (docs/api.md#locale): null allowed; at most 10 characters matching (case-insensitively) `ll` or
/// `ll-cc`; lower-cased; must be one of [`SUPPORTED_LOCALES`].
pub fn parse_locale(raw: Option<&str>) -> Result<Option<String>, String> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    check_no_nul(raw)?;
    if raw.chars().count() > MAX_LOCALE_CHARS || !is_locale_shape(raw) {
        return Err(LOCALE_MESSAGE.to_owned());
    }
    let lowered = raw.to_ascii_lowercase();
    if SUPPORTED_LOCALES.contains(&lowered.as_str()) {
        Ok(Some(lowered))
    } else {
        Err(LOCALE_MESSAGE.to_owned())
    }
}

/// Two ASCII letters, optionally followed by `-` and two ASCII letters.
fn is_locale_shape(raw: &str) -> bool {
    let b = raw.as_bytes();
    let letters = |s: &[u8]| s.len() == 2 && s.iter().all(u8::is_ascii_alphabetic);
    match b.len() {
        2 => letters(b),
        5 => letters(&b[..2]) && b[2] == b'-' && letters(&b[3..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err<T>(msg: &str) -> Result<T, String> {
        Err(msg.to_owned())
    }

    #[test]
    fn nul_check() {
        assert_eq!(check_no_nul("abc"), Ok(()));
        assert_eq!(check_no_nul(""), Ok(()));
        assert_eq!(check_no_nul("a\0b"), err(NUL_MESSAGE));
        assert_eq!(NUL_MESSAGE, "String should not contain null characters");
    }

    #[test]
    fn first_name_rules() {
        assert_eq!(parse_first_name("  Ada  "), Ok("Ada".to_owned()));
        assert_eq!(parse_first_name("A"), Ok("A".to_owned()));
        assert_eq!(
            parse_first_name(""),
            err("String should have at least 1 character")
        );
        assert_eq!(
            parse_first_name(" \t\n "),
            err("String should have at least 1 character")
        );
        let hundred = "é".repeat(100);
        assert_eq!(
            parse_first_name(&format!("  {hundred}  ")),
            Ok(hundred.clone())
        );
        assert_eq!(
            parse_first_name(&format!("{hundred}x")),
            err("String should have at most 100 characters")
        );
        assert_eq!(parse_first_name("Ad\0a"), err(NUL_MESSAGE));
        assert_eq!(parse_first_name("\0"), err(NUL_MESSAGE));
    }

    #[test]
    fn last_name_rules() {
        assert_eq!(parse_last_name(None), Ok(None));
        assert_eq!(parse_last_name(Some("")), Ok(None));
        assert_eq!(parse_last_name(Some("   ")), Ok(None));
        assert_eq!(
            parse_last_name(Some(" Lovelace ")),
            Ok(Some("Lovelace".to_owned()))
        );
        assert_eq!(
            parse_last_name(Some(&"x".repeat(100))),
            Ok(Some("x".repeat(100)))
        );
        assert_eq!(
            parse_last_name(Some(&"x".repeat(101))),
            err("String should have at most 100 characters")
        );
        assert_eq!(parse_last_name(Some("a\0")), err(NUL_MESSAGE));
    }

    #[test]
    fn phone_null_and_empty() {
        assert_eq!(parse_phone_number(None), Ok(None));
        assert_eq!(
            parse_phone_number(Some("")),
            err("Phone number cannot be empty")
        );
        assert_eq!(
            parse_phone_number(Some("  \t ")),
            err("Phone number cannot be empty")
        );
        assert_eq!(parse_phone_number(Some("+1234\0 5678")), err(NUL_MESSAGE));
    }

    #[test]
    fn phone_cleaning() {
        assert_eq!(
            parse_phone_number(Some("+1 (555) 123-4567")),
            Ok(Some("+15551234567".to_owned()))
        );
        assert_eq!(
            parse_phone_number(Some(" 02 1234 5678 ")),
            Ok(Some("0212345678".to_owned()))
        );
        assert_eq!(
            parse_phone_number(Some("+39 (06) 1234-5678")),
            Ok(Some("+390612345678".to_owned()))
        );
    }

    #[test]
    fn phone_digit_bounds() {
        assert_eq!(
            parse_phone_number(Some("+1234567")),
            err("Invalid phone number format")
        );
        assert_eq!(
            parse_phone_number(Some("+12345678")),
            Ok(Some("+12345678".to_owned()))
        );
        assert_eq!(
            parse_phone_number(Some("+12345678901234")),
            Ok(Some("+12345678901234".to_owned()))
        );
        assert_eq!(
            parse_phone_number(Some("+123456789012345")),
            err("Invalid phone number format")
        );
        assert_eq!(
            parse_phone_number(Some("012345678")),
            Ok(Some("012345678".to_owned()))
        );
        assert_eq!(
            parse_phone_number(Some("01234567")),
            err("Invalid phone number format")
        );
        assert_eq!(
            parse_phone_number(Some("012345678901234")),
            Ok(Some("012345678901234".to_owned()))
        );
        assert_eq!(
            parse_phone_number(Some("0123456789012345")),
            err("Invalid phone number format")
        );
    }

    #[test]
    fn phone_bad_shapes() {
        for raw in [
            "5551234567",
            "123456789",
            "+",
            "0",
            "++12345678",
            "+0+12345678",
            "+1234567a8",
            "+1.555.123.4567",
            "+١٢٣٤٥٦٧٨٩",
            "1+2345678901",
            "---",
            "()",
        ] {
            assert_eq!(
                parse_phone_number(Some(raw)),
                err("Invalid phone number format"),
                "{raw}"
            );
        }
    }

    #[test]
    fn locale_rules() {
        assert_eq!(parse_locale(None), Ok(None));
        assert_eq!(parse_locale(Some("en")), Ok(Some("en".to_owned())));
        assert_eq!(parse_locale(Some("IT")), Ok(Some("it".to_owned())));
        assert_eq!(parse_locale(Some("EN-gb")), Ok(Some("en-gb".to_owned())));
        assert_eq!(parse_locale(Some("en-US")), Ok(Some("en-us".to_owned())));
        assert_eq!(parse_locale(Some("it-IT")), Ok(Some("it-it".to_owned())));
        for raw in [
            "fr",
            "fr-fr",
            "",
            "e",
            "eng",
            "en_gb",
            "en-",
            "en-gbr",
            " en",
            "en ",
            "en-gb-x",
            "it-ch",
            "éé",
            "abcdefghijk",
        ] {
            assert_eq!(
                parse_locale(Some(raw)),
                err("Unsupported locale"),
                "{raw:?}"
            );
        }
        assert_eq!(parse_locale(Some("en\0")), err(NUL_MESSAGE));
    }
}
