//! Reading settings from a lookup (the environment, or a map in tests):
//! typed getters that name the variable in every error.

use std::time::Duration;

use super::ConfigError;

pub(super) fn invalid(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

pub(super) struct Reader<'a> {
    pub(super) lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Reader<'_> {
    pub(super) fn raw(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    pub(super) fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or_else(|| default.to_owned())
    }

    pub(super) fn bool(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => parse_bool(&v).ok_or_else(|| invalid(name, "expected a boolean")),
        }
    }

    pub(super) fn int<T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display>(
        &self,
        name: &'static str,
        default: T,
        min: T,
        max: T,
    ) -> Result<T, ConfigError> {
        let value = match self.raw(name) {
            None => default,
            Some(v) => v
                .trim()
                .parse::<T>()
                .map_err(|_| invalid(name, "expected an integer"))?,
        };
        if value < min || value > max {
            return Err(invalid(name, format!("must be between {min} and {max}")));
        }
        Ok(value)
    }

    /// A duration in seconds (fractions allowed), within `min..=max` seconds.
    pub(super) fn seconds(
        &self,
        name: &'static str,
        default: f64,
        min: f64,
        max: f64,
    ) -> Result<Duration, ConfigError> {
        let value = match self.raw(name) {
            None => default,
            Some(v) => v
                .trim()
                .parse::<f64>()
                .map_err(|_| invalid(name, "expected a number of seconds"))?,
        };
        if !(min..=max).contains(&value) {
            return Err(invalid(
                name,
                format!("must be between {min} and {max} seconds"),
            ));
        }
        Ok(Duration::from_secs_f64(value))
    }

    pub(super) fn list(
        &self,
        name: &'static str,
        default: &[&str],
    ) -> Result<Vec<String>, ConfigError> {
        let Some(raw) = self.raw(name) else {
            return Ok(default.iter().map(|s| (*s).to_owned()).collect());
        };
        let raw = raw.trim();
        if raw.starts_with('[') {
            serde_json::from_str::<Vec<String>>(raw)
                .map_err(|_| invalid(name, "expected a JSON array of strings"))
        } else {
            Ok(raw
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect())
        }
    }
}

/// Booleans as the API accepts them (docs/api.md#query-parameters).
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
        _ => None,
    }
}

pub(super) fn first_of<T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display>(
    r: &Reader<'_>,
    name: &'static str,
    alias: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    if r.raw(name).is_none() && r.raw(alias).is_some() {
        r.int(alias, default, min, max)
    } else {
        r.int(name, default, min, max)
    }
}
