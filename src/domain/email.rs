//! E-mail address validation and normalisation (docs/api.md#email).
//!
//! An address is trimmed, checked against a deliberately small syntax (RFC 5322 `atext` local part plus
//! non-ASCII characters, a host name domain of at least two labels) and then lower-cased as a whole using
//! Unicode lower case. No DNS or deliverability check is made.

use std::fmt;

/// The only failure message of [`Email::parse`].
pub const INVALID_EMAIL: &str = "value is not a valid email address";

/// Minimum length of a trimmed address, in characters.
const MIN_LEN: usize = 3;
/// Maximum length of a trimmed address, in characters.
const MAX_LEN: usize = 254;
/// Maximum length of the local part, in characters.
const MAX_LOCAL_LEN: usize = 64;
/// Maximum length of one domain label, in characters.
const MAX_LABEL_LEN: usize = 63;

/// A syntactically valid, normalised (trimmed, Unicode lower-cased) e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// Validates `raw` and returns its normalised form; the error is the documented message.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        // Lower-casing can lengthen an address ('İ' becomes two characters):
        // the normalised form, which is what is stored, must pass too.
        let normalised = trimmed.to_lowercase();
        if is_valid(trimmed) && is_valid(&normalised) {
            Ok(Self(normalised))
        } else {
            Err(INVALID_EMAIL.to_owned())
        }
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the value and returns the normalised address.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Trims and Unicode lower-cases `raw` without any syntax check (e.g. for the OAuth2 form `username`).
pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// Whether the (already trimmed) address satisfies the syntax of docs/api.md#email.
fn is_valid(address: &str) -> bool {
    let len = address.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&len) || address.chars().any(is_invisible) {
        return false;
    }
    let mut parts = address.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    is_valid_local(local) && is_valid_domain(domain)
}

/// Characters that render as nothing, or as blank space, or reorder the
/// text around them: controls, white space, Unicode's default-ignorable
/// code points (zero-width characters, joiners, variation selectors, tags,
/// Hangul fillers), bidirectional controls and other format characters, and
/// the blank Braille pattern. An address holding one would look identical to
/// another account's address (a lookalike), so none is accepted.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || c.is_whitespace()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}'..='\u{1160}' | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}' | '\u{2800}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
            | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{0600}'..='\u{0605}' | '\u{06DD}' | '\u{070F}'
            | '\u{0890}'..='\u{0891}' | '\u{08E2}' | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1345F}'
            | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// RFC 5322 `atext` (ASCII part), plus `.` and any non-ASCII character.
fn is_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || !c.is_ascii()
}

/// Local part: 1–64 characters, no leading/trailing dot, no consecutive dots.
fn is_valid_local(local: &str) -> bool {
    let len = local.chars().count();
    (1..=MAX_LOCAL_LEN).contains(&len)
        && local.chars().all(is_local_char)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
}

/// Domain: at least two labels; the last one not all digits.
fn is_valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| is_valid_label(label))
        && labels
            .last()
            .is_some_and(|last| !last.chars().all(|c| c.is_ascii_digit()))
}

/// Label: 1–63 letters (ASCII or not), digits and `-`, not starting or ending with `-`.
fn is_valid_label(label: &str) -> bool {
    let len = label.chars().count();
    (1..=MAX_LABEL_LEN).contains(&len)
        && label
            .chars()
            .all(|c| c.is_alphabetic() || c.is_ascii_digit() || c == '-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

#[cfg(test)]
mod tests {

    #[test]
    fn invisible_and_reordering_characters_are_refused() {
        for c in [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{202E}',
            '\u{2066}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{00A0}',
            '\u{3164}',
            '\u{115F}',
            '\u{FE0F}',
            '\u{E0041}',
            '\u{2800}',
            '\u{180E}',
            '\u{3000}',
            '\u{0085}',
        ] {
            assert!(
                rejected(&format!("ad{c}a@example.com")),
                "{:04X} in the local part",
                u32::from(c)
            );
            assert!(
                rejected(&format!("ada@exa{c}mple.com")),
                "{:04X} in the domain",
                u32::from(c)
            );
        }
        assert_eq!(
            ok("josé.müller@bücher.example"),
            "josé.müller@bücher.example"
        );
        assert_eq!(ok("用户@例子.广告"), "用户@例子.广告");
    }

    #[test]
    fn the_normalised_form_must_fit_too() {
        let local = "İ".repeat(64);
        let address = format!("{local}@{}.{}", "a".repeat(63), "b".repeat(63));
        assert!(address.chars().count() <= 254);
        assert!(address.to_lowercase().chars().count() > 254);
        assert!(Email::parse(&address).is_err());
    }

    use super::*;

    fn ok(raw: &str) -> String {
        match Email::parse(raw) {
            Ok(email) => email.into_inner(),
            Err(e) => format!("ERR: {e}"),
        }
    }

    fn rejected(raw: &str) -> bool {
        Email::parse(raw) == Err(INVALID_EMAIL.to_owned())
    }

    #[test]
    fn normalises_trim_and_lowercase() {
        assert_eq!(ok("  John.Doe@Example.COM \n"), "john.doe@example.com");
        assert_eq!(ok("ÄBC@ÜBER.de"), "äbc@über.de");
        let email = Email::parse("A@B.co");
        assert_eq!(email.as_ref().map(Email::as_str), Ok("a@b.co"));
        assert_eq!(email.map(|e| e.to_string()), Ok("a@b.co".to_owned()));
    }

    #[test]
    fn accepts_valid_addresses() {
        for raw in [
            "a@b.co",
            "user+tag@example.com",
            "first.last@sub.example.co.uk",
            "!#$%&'*+-/=?^_`{|}~@example.com",
            "user@xn--bcher-kva.example",
            "用户@例子.广告",
            "user@my-host.example",
            "user@123.example",
            "user@example.c0m",
            "a@b.c",
        ] {
            assert!(Email::parse(raw).is_ok(), "{raw} should be valid");
        }
    }

    #[test]
    fn message_is_verbatim() {
        assert_eq!(
            Email::parse("nope"),
            Err("value is not a valid email address".to_owned())
        );
    }

    #[test]
    fn rejects_structural_problems() {
        for raw in [
            "",
            "   ",
            "a@",
            "@b.co",
            "ab",
            "plainaddress",
            "a@@b.co",
            "a@b@c.co",
            "user@localhost",
            "user@example.",
            "user@.example.com",
            "user@example..com",
            "user@-example.com",
            "user@example-.com",
            "user@exa_mple.com",
            "user@example.123",
            "user@1.2.3.4",
            "user@[127.0.0.1]",
            "user@[IPv6:::1]",
            "\"quoted\"@example.com",
            "\"a b\"@example.com",
            ".user@example.com",
            "user.@example.com",
            "us..er@example.com",
            "us er@example.com",
            "us(er)@example.com",
            "us,er@example.com",
            "us\\er@example.com",
            "us\0er@example.com",
            "user@exam\0ple.com",
            "user@exa mple.com",
        ] {
            assert!(rejected(raw), "{raw:?} should be rejected");
        }
    }

    #[test]
    fn length_bounds() {
        // Total length: 254 ok, 255 rejected.
        let label = "a".repeat(63);
        let domain = format!("{label}.{label}.{label}.{}", "b".repeat(57)); // 63*3 + 57 + 3 = 249
        let ok254 = format!("abcd@{domain}");
        assert_eq!(ok254.chars().count(), 254);
        assert!(Email::parse(&ok254).is_ok());
        let bad255 = format!("abcde@{domain}");
        assert!(rejected(&bad255));
        // Trimming happens before the length check.
        assert!(Email::parse(&format!("  {ok254}  ")).is_ok());

        // Local part: 64 ok, 65 rejected.
        assert!(Email::parse(&format!("{}@example.com", "x".repeat(64))).is_ok());
        assert!(rejected(&format!("{}@example.com", "x".repeat(65))));
        // Multibyte local part counted in characters.
        assert!(Email::parse(&format!("{}@example.com", "é".repeat(64))).is_ok());
        assert!(rejected(&format!("{}@example.com", "é".repeat(65))));

        // Label: 63 ok, 64 rejected.
        assert!(Email::parse(&format!("u@{}.com", "d".repeat(63))).is_ok());
        assert!(rejected(&format!("u@{}.com", "d".repeat(64))));
    }

    #[test]
    fn normalize_email_does_not_validate() {
        assert_eq!(normalize_email("  Not An Email  "), "not an email");
        assert_eq!(normalize_email("\tUSER@Example.Com\n"), "user@example.com");
        assert_eq!(normalize_email(""), "");
    }
}
