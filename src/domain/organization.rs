//! Organization field rules (docs/api.md#organization-fields).

use super::profile::check_no_nul;

/// Name: trimmed, 1 to 255 characters.
pub fn parse_name(raw: &str) -> Result<String, String> {
    check_no_nul(raw)?;
    let name = raw.trim();
    if name.is_empty() {
        return Err("Organization name cannot be empty".to_owned());
    }
    if name.chars().count() > 255 {
        return Err("String should have at most 255 characters".to_owned());
    }
    Ok(name.to_owned())
}

/// Slug: 1 to 255 of `a-z`, `0-9` and `-`, no leading, trailing or double `-`.
pub fn parse_slug(raw: &str) -> Result<String, String> {
    let valid = !raw.is_empty()
        && raw.len() <= 255
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !raw.starts_with('-')
        && !raw.ends_with('-')
        && !raw.contains("--");
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(
            "Slug must be 1-255 lowercase letters, digits and single hyphens, \
             not starting or ending with a hyphen"
                .to_owned(),
        )
    }
}

/// Description: at most 10,000 characters.
pub fn parse_description(raw: &str) -> Result<String, String> {
    check_no_nul(raw)?;
    if raw.chars().count() > 10_000 {
        return Err("String should have at most 10000 characters".to_owned());
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(parse_slug("acme-2").is_ok());
        for bad in ["", "-acme", "acme-", "ac--me", "Acme", "ac me", "acmé"] {
            assert!(parse_slug(bad).is_err(), "{bad}");
        }
        assert!(parse_slug(&"a".repeat(256)).is_err());
    }

    #[test]
    fn names_and_descriptions() {
        assert_eq!(parse_name("  Acme ").unwrap(), "Acme");
        assert_eq!(
            parse_name("   ").unwrap_err(),
            "Organization name cannot be empty"
        );
        assert!(parse_name(&"x".repeat(256)).is_err());
        assert!(parse_description(&"x".repeat(10_001)).is_err());
        assert!(parse_description("a\u{0}").is_err());
    }
}
