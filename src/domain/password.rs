//! Password strength rules for new passwords (docs/api.md#passwords).

use std::sync::LazyLock;

use regex::Regex;

/// Demo account passwords (docs/endpoints.md#login); they do not satisfy [`check_new_password`].
pub const DEMO_PASSWORDS: [&str; 2] = ["Demo123!", "Admin123!"];

/// Minimum password length, in characters.
pub const MIN_CHARS: usize = 12;
/// Maximum password length, in characters.
pub const MAX_CHARS: usize = 128;
/// Maximum password length in UTF-8 bytes when the hasher is bcrypt.
pub const BCRYPT_MAX_BYTES: usize = 72;

/// Passwords refused case-insensitively as too common.
pub const COMMON_PASSWORDS: [&str; 23] = [
    "password",
    "password1",
    "password123",
    "password1234",
    "admin",
    "admin123",
    "admin1234",
    "welcome",
    "welcome1",
    "welcome123",
    "qwerty",
    "qwerty123",
    "12345678",
    "123456789",
    "1234567890",
    "letmein",
    "letmein1",
    "letmein123",
    "monkey123",
    "dragon123",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
];

/// Characters that count as "special".
const SPECIAL_CHARS: &str = "!@#$%^&*()_+-=[]{};:,.<>?~`|";

/// Checks a new password against docs/api.md#passwords; the error is the message of the first failing rule.
///
/// `bcrypt_limit` enables the 72-byte rule (`PASSWORD_HASHER=bcrypt`).
pub fn check_new_password(password: &str, bcrypt_limit: bool) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(format!(
            "Password must be at least {MIN_CHARS} characters long"
        ));
    }
    if chars > MAX_CHARS {
        return Err(format!("Password must not exceed {MAX_CHARS} characters"));
    }
    if bcrypt_limit && password.len() > BCRYPT_MAX_BYTES {
        return Err(format!("Password must not exceed {BCRYPT_MAX_BYTES} bytes"));
    }
    let lowered = password.to_lowercase();
    if COMMON_PASSWORDS.contains(&lowered.as_str()) {
        return Err("Password is too common".to_owned());
    }

    let mut missing = Vec::new();
    if !password.chars().any(char::is_lowercase) {
        missing.push("one lowercase letter");
    }
    if !password.chars().any(char::is_uppercase) {
        missing.push("one uppercase letter");
    }
    if !password.chars().any(is_decimal_digit) {
        missing.push("one digit");
    }
    if !password.chars().any(|c| SPECIAL_CHARS.contains(c)) {
        missing.push("one special character");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "Password must contain at least {}",
            missing.join(", ")
        ))
    }
}

/// Unicode decimal digit (general category Nd), via the regex crate's `\d` table.
///
/// The standard library has no Nd test (`char::is_numeric` also accepts `²`, `Ⅻ`, …). Should the regex
/// ever fail to build, only ASCII digits count.
fn is_decimal_digit(c: char) -> bool {
    static ND: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\d$").ok());
    if c.is_ascii_digit() {
        return true;
    }
    if c.is_ascii() || !c.is_numeric() {
        return false;
    }
    let mut buf = [0u8; 4];
    ND.as_ref()
        .is_some_and(|re| re.is_match(c.encode_utf8(&mut buf)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(msg: &str) -> Result<(), String> {
        Err(msg.to_owned())
    }

    #[test]
    fn accepts_strong_password() {
        assert_eq!(check_new_password("Str0ng!Passw", true), Ok(()));
        assert_eq!(check_new_password("Correct-Horse-Battery-9", false), Ok(()));
    }

    #[test]
    fn minimum_length_11_vs_12() {
        assert_eq!(
            check_new_password("Abcdefgh1!x", false),
            err("Password must be at least 12 characters long")
        );
        assert_eq!(check_new_password("Abcdefgh1!xy", false), Ok(()));
        // Characters, not bytes: 11 multibyte characters are still too short.
        assert_eq!(
            check_new_password("Ééééééé1!aB", false),
            err("Password must be at least 12 characters long")
        );
        assert_eq!(
            check_new_password("", true),
            err("Password must be at least 12 characters long")
        );
    }

    #[test]
    fn maximum_length_128_vs_129() {
        let ok = format!("Aa1!{}", "x".repeat(124));
        assert_eq!(ok.chars().count(), 128);
        assert_eq!(check_new_password(&ok, false), Ok(()));
        let long = format!("Aa1!{}", "x".repeat(125));
        assert_eq!(
            check_new_password(&long, false),
            err("Password must not exceed 128 characters")
        );
        // The character limit is checked before the byte limit.
        assert_eq!(
            check_new_password(&long, true),
            err("Password must not exceed 128 characters")
        );
        // 128 multibyte characters: fine without bcrypt.
        let multi = format!("Aa1!{}", "é".repeat(124));
        assert_eq!(check_new_password(&multi, false), Ok(()));
    }

    #[test]
    fn bcrypt_72_vs_73_bytes() {
        let ok72 = format!("Aa1!{}", "x".repeat(68));
        assert_eq!(ok72.len(), 72);
        assert_eq!(check_new_password(&ok72, true), Ok(()));
        let bad73 = format!("Aa1!{}", "x".repeat(69));
        assert_eq!(
            check_new_password(&bad73, true),
            err("Password must not exceed 72 bytes")
        );
        assert_eq!(check_new_password(&bad73, false), Ok(()));

        // Multibyte: 4 + 34*2 = 72 bytes (38 chars) ok; one more 'é' = 74 bytes rejected.
        let multi72 = format!("Aa1!{}", "é".repeat(34));
        assert_eq!(multi72.len(), 72);
        assert_eq!(check_new_password(&multi72, true), Ok(()));
        let multi73 = format!("Aa1!{}x", "é".repeat(34));
        assert_eq!(multi73.len(), 73);
        assert_eq!(
            check_new_password(&multi73, true),
            err("Password must not exceed 72 bytes")
        );
        // 20 emoji = 80 bytes but only 20 characters.
        let emoji = format!("Aa1!{}", "😀".repeat(20));
        assert_eq!(
            check_new_password(&emoji, true),
            err("Password must not exceed 72 bytes")
        );
        assert_eq!(check_new_password(&emoji, false), Ok(()));
    }

    #[test]
    fn common_passwords_case_insensitive() {
        // Only "password1234" reaches the common-list check: every other entry is shorter than 12.
        for pw in [
            "password1234",
            "Password1234",
            "PASSWORD1234",
            "pAsSwOrD1234",
        ] {
            assert_eq!(
                check_new_password(pw, true),
                err("Password is too common"),
                "{pw}"
            );
        }
        // The common check runs before the class check (PASSWORD1234 also lacks classes).
        assert_eq!(
            check_new_password("PASSWORD1234", false),
            err("Password is too common")
        );
        assert_eq!(
            check_new_password("1234567890", true),
            err("Password must be at least 12 characters long")
        );
        // Not an exact match -> not common.
        assert_eq!(check_new_password("Password1234!", true), Ok(()));
        // Too short common passwords fail on length first.
        assert_eq!(
            check_new_password("P@ssw0rd", true),
            err("Password must be at least 12 characters long")
        );
        assert_eq!(COMMON_PASSWORDS.len(), 23);
    }

    #[test]
    fn missing_classes_listed_in_order() {
        assert_eq!(
            check_new_password("abcdefghijkl", false),
            err(
                "Password must contain at least one uppercase letter, one digit, one special character"
            )
        );
        assert_eq!(
            check_new_password("ABCDEFGHIJKL", false),
            err(
                "Password must contain at least one lowercase letter, one digit, one special character"
            )
        );
        assert_eq!(
            check_new_password("123456789012", false),
            err(
                "Password must contain at least one lowercase letter, one uppercase letter, one special character"
            )
        );
        assert_eq!(
            check_new_password("            ", false),
            err(
                "Password must contain at least one lowercase letter, one uppercase letter, one digit, one special character"
            )
        );
        assert_eq!(
            check_new_password("Abcdefghijk1", false),
            err("Password must contain at least one special character")
        );
        assert_eq!(
            check_new_password("abcdefghij1!", false),
            err("Password must contain at least one uppercase letter")
        );
        assert_eq!(
            check_new_password("ABCDEFGHIJ1!", false),
            err("Password must contain at least one lowercase letter")
        );
        assert_eq!(
            check_new_password("Abcdefghij!!", false),
            err("Password must contain at least one digit")
        );
    }

    #[test]
    fn special_character_set() {
        for c in "!@#$%^&*()_+-=[]{};:,.<>?~`|".chars() {
            let pw = format!("Abcdefghij1{c}");
            assert_eq!(check_new_password(&pw, true), Ok(()), "{c}");
        }
        for c in ['"', '\'', '/', '\\', ' ', '€', '§'] {
            let pw = format!("Abcdefghij1{c}");
            assert_eq!(
                check_new_password(&pw, true),
                err("Password must contain at least one special character"),
                "{c:?}"
            );
        }
    }

    #[test]
    fn unicode_classes() {
        // Unicode Lowercase / Uppercase properties.
        assert_eq!(check_new_password("ÄÖÜßabcdef1!", false), Ok(()));
        assert_eq!(
            check_new_password("ÉÈÊ ÀÂÎ ÔÛ1!", false),
            err("Password must contain at least one lowercase letter")
        );
        // Non-ASCII decimal digit (Arabic-Indic) counts; a superscript two does not.
        assert_eq!(check_new_password("Abcdefghij٣!", false), Ok(()));
        assert_eq!(
            check_new_password("Abcdefghij²!", false),
            err("Password must contain at least one digit")
        );
    }

    #[test]
    fn demo_passwords_fail_the_rules() {
        assert_eq!(DEMO_PASSWORDS, ["Demo123!", "Admin123!"]);
        for pw in DEMO_PASSWORDS {
            assert_eq!(
                check_new_password(pw, true),
                err("Password must be at least 12 characters long")
            );
        }
    }
}
