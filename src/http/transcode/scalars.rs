//! Scalars of the JSON mapping shared by every decoder and the encoder: the
//! names of well-known types, enum value names, integers, timestamps and
//! wrapper values from text (query strings, path variables, form fields),
//! and the 422 messages for each kind.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use chrono::DateTime;
use prost_reflect::{
    DynamicMessage, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, Value as PValue,
};

/// Error message for a string that contains U+0000.
pub(super) use crate::domain::profile::NUL_MESSAGE;

pub(super) const TIMESTAMP: &str = "google.protobuf.Timestamp";

pub(super) const STRUCT: &str = "google.protobuf.Struct";

pub(super) const VALUE: &str = "google.protobuf.Value";

pub(super) const LIST_VALUE: &str = "google.protobuf.ListValue";

/// Whether `full_name` is one of the `google.protobuf.*Value` wrapper types.
pub(super) fn is_wrapper(full_name: &str) -> bool {
    const WRAPPERS: [&str; 9] = [
        "Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes",
    ];
    let short = full_name.strip_prefix("google.protobuf.");
    short
        .and_then(|n| n.strip_suffix("Value"))
        .is_some_and(|n| WRAPPERS.contains(&n))
}

pub(super) fn is_special(desc: &MessageDescriptor) -> bool {
    desc.full_name() == "google.protobuf.Timestamp" || is_wrapper(desc.full_name())
}

/// Contract name of an enum value: the value name without the enum's type-name
/// prefix, lower-cased. `None` for a zero `*_UNSPECIFIED` value (encoded as null).
pub(crate) fn enum_value_name(desc: &EnumDescriptor, number: i32) -> Option<String> {
    let value = desc.get_value(number)?;
    if number == 0 && value.name().ends_with("_UNSPECIFIED") {
        return None;
    }
    Some(without_type_prefix(desc.name(), value.name()).to_ascii_lowercase())
}

/// `value_name` without its enum's prefix: `COLOR_DARK_BLUE` of `Color` is
/// `DARK_BLUE`, `BODY_FORMAT_JSON` of `BodyFormat` is `JSON`. A name without
/// the prefix comes back whole.
pub(super) fn without_type_prefix<'a>(type_name: &str, value_name: &'a str) -> &'a str {
    let name = value_name.as_bytes();
    let mut at = 0;
    let mut expect = |byte: u8| {
        let found = name.get(at) == Some(&byte);
        at += 1;
        found
    };
    let mut prev_lower = false;
    for c in type_name.bytes() {
        if c.is_ascii_uppercase() && prev_lower && !expect(b'_') {
            return value_name;
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        if !expect(c.to_ascii_uppercase()) {
            return value_name;
        }
    }
    if !expect(b'_') {
        return value_name;
    }
    value_name.get(at..).unwrap_or(value_name)
}

/// Number of the enum value whose API name is exactly `name`.
pub(super) fn enum_number(desc: &EnumDescriptor, name: &str) -> Option<i32> {
    desc.values()
        .find(|v| enum_value_name(desc, v.number()).as_deref() == Some(name))
        .map(|v| v.number())
}

/// 422 message for an enum: `Input should be 'a', 'b' or 'c'`.
pub(super) fn enum_error(desc: &EnumDescriptor) -> String {
    let names: Vec<String> = desc
        .values()
        .filter_map(|v| enum_value_name(desc, v.number()))
        .map(|n| format!("'{n}'"))
        .collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            format!("Input should be {} or {last}", rest.join(", "))
        }
        Some((last, _)) => format!("Input should be {last}"),
        None => "Input should be a valid enumeration member".to_owned(),
    }
}

/// Integer of the given kind from text: optional sign, then decimal digits, in range.
pub(super) fn int_from_str(kind: &Kind, text: &str) -> Option<PValue> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    int_value(kind, text.parse::<i128>().ok()?)
}

pub(super) fn int_value(kind: &Kind, n: i128) -> Option<PValue> {
    Some(match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => PValue::I32(i32::try_from(n).ok()?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => PValue::I64(i64::try_from(n).ok()?),
        Kind::Uint32 | Kind::Fixed32 => PValue::U32(u32::try_from(n).ok()?),
        Kind::Uint64 | Kind::Fixed64 => PValue::U64(u64::try_from(n).ok()?),
        _ => return None,
    })
}

/// Builds a `google.protobuf.Timestamp` from an RFC 3339 string.
pub(super) fn timestamp_from_str(desc: &MessageDescriptor, text: &str) -> Option<DynamicMessage> {
    let t = DateTime::parse_from_rfc3339(text).ok()?;
    let mut m = DynamicMessage::new(desc.clone());
    m.set_field_by_name("seconds", PValue::I64(t.timestamp()));
    m.set_field_by_name(
        "nanos",
        PValue::I32(i32::try_from(t.timestamp_subsec_nanos()).ok()?),
    );
    Some(m)
}

/// 422 message for text that is not a valid `kind` (strings: only NUL is invalid).
pub(super) fn text_error(kind: &Kind) -> &'static str {
    match kind {
        Kind::String => NUL_MESSAGE,
        Kind::Bool => "Input should be a valid boolean",
        Kind::Double | Kind::Float => "Input should be a valid number",
        Kind::Bytes => "Input should be a valid base64 string",
        Kind::Message(m) if is_wrapper(m.full_name()) => m
            .get_field_by_name("value")
            .map_or(NUL_MESSAGE, |f| text_error(&f.kind())),
        Kind::Message(_) => "Input should be a valid datetime",
        _ => "Input should be a valid integer",
    }
}

/// Parses a query/form/path text for `field`; `Ok(None)` for fields that cannot
/// take text (plain messages), which are ignored.
pub(super) fn is_message(field: &FieldDescriptor) -> bool {
    matches!(field.kind(), Kind::Message(_)) && !field.is_list() && !field.is_map()
}

pub(super) fn parse_text(field: &FieldDescriptor, text: &str) -> Result<Option<PValue>, String> {
    if text.contains('\0') {
        return Err(NUL_MESSAGE.to_owned());
    }
    match field.kind() {
        Kind::Message(desc) if !is_special(&desc) => Ok(None),
        Kind::Enum(desc) => match enum_number(&desc, text) {
            Some(n) => Ok(Some(PValue::EnumNumber(n))),
            None => Err(enum_error(&desc)),
        },
        kind => match text_value(&kind, text) {
            Some(value) => Ok(Some(value)),
            None => Err(text_error(&kind).to_owned()),
        },
    }
}

/// Scalar, timestamp or wrapper value from text (query rules); `None` if invalid.
pub(super) fn text_value(kind: &Kind, text: &str) -> Option<PValue> {
    let finite = || text.parse::<f64>().ok().filter(|f| f.is_finite());
    Some(match kind {
        Kind::String => PValue::String(text.to_owned()),
        Kind::Bool => PValue::Bool(match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" | "t" | "y" => true,
            "false" | "0" | "no" | "off" | "f" | "n" => false,
            _ => return None,
        }),
        Kind::Double => PValue::F64(finite()?),
        #[expect(clippy::cast_possible_truncation, reason = "f32 field")]
        Kind::Float => PValue::F32(finite()? as f32),
        Kind::Bytes => {
            let bytes = STANDARD.decode(text).or_else(|_| URL_SAFE.decode(text));
            PValue::Bytes(bytes.ok()?.into())
        }
        Kind::Message(desc) if desc.full_name() == "google.protobuf.Timestamp" => {
            PValue::Message(timestamp_from_str(desc, text)?)
        }
        Kind::Message(desc) => {
            let inner = desc.get_field_by_name("value")?;
            let mut wrapper = DynamicMessage::new(desc.clone());
            wrapper.set_field(&inner, text_value(&inner.kind(), text)?);
            PValue::Message(wrapper)
        }
        _ => int_from_str(kind, text)?,
    })
}

#[cfg(test)]
mod tests {
    use prost_reflect::DescriptorPool;
    use serde_json::json;

    use super::super::encode::encode_message;
    use super::super::fixtures::{decode, pool};
    use super::*;

    #[test]
    fn timestamp_has_six_digits() {
        let ts = pool().get_message_by_name(TIMESTAMP).unwrap();
        let mut m = DynamicMessage::new(ts.clone());
        m.set_field_by_name("seconds", PValue::I64(1_736_072_430));
        assert_eq!(encode_message(&m), json!("2025-01-05T10:20:30.000000Z"));
        m.set_field_by_name("nanos", PValue::I32(123_456_789));
        assert_eq!(encode_message(&m), json!("2025-01-05T10:20:30.123456Z"));
        let parsed = timestamp_from_str(&ts, "2025-01-05T10:20:30.5Z").unwrap();
        assert_eq!(
            parsed.get_field_by_name("seconds").unwrap().as_i64(),
            Some(1_736_072_430)
        );
        assert_eq!(
            parsed.get_field_by_name("nanos").unwrap().as_i32(),
            Some(500_000_000)
        );
        assert!(timestamp_from_str(&ts, "2025-01-05").is_none());
    }

    #[test]
    fn enum_names() {
        let color = pool().get_enum_by_name("testing.v1.Color").unwrap();
        assert_eq!(enum_value_name(&color, 0), None);
        assert_eq!(enum_value_name(&color, 1).as_deref(), Some("red"));
        assert_eq!(enum_value_name(&color, 2).as_deref(), Some("dark_blue"));
        assert_eq!(without_type_prefix("Color", "COLOR_RED"), "RED");
        assert_eq!(
            without_type_prefix("BodyFormat", "BODY_FORMAT_JSON"),
            "JSON"
        );
        assert_eq!(
            without_type_prefix("BodyFormat", "BODYFORMAT_JSON"),
            "BODYFORMAT_JSON"
        );
        assert_eq!(without_type_prefix("Color", "COLOR"), "COLOR");
        assert_eq!(without_type_prefix("Color", "COLOR_"), "");
        assert_eq!(enum_number(&color, "dark_blue"), Some(2));
        assert_eq!(enum_number(&color, "DARK_BLUE"), None);
        assert_eq!(enum_number(&color, "color_red"), None);
        assert_eq!(enum_number(&color, "unspecified"), None);
        assert_eq!(enum_error(&color), "Input should be 'red' or 'dark_blue'");
        let format = pool().get_enum_by_name("identity.v1.BodyFormat").unwrap();
        assert_eq!(enum_value_name(&format, 0).as_deref(), Some("json"));
        assert_eq!(enum_value_name(&format, 1).as_deref(), Some("form"));
        let (thing, errors) = decode("Thing", json!({"color": null}));
        assert!(errors.is_empty());
        assert_eq!(
            thing.get_field_by_name("color").unwrap().as_enum_number(),
            Some(0)
        );
        let (_, errors) = decode("Thing", json!({"color": 1}));
        assert_eq!(errors.len(), 1, "numbers are not enum names");
        assert_eq!(errors[0].field.as_deref(), Some("color"));
    }

    #[test]
    fn text_values() {
        let global = DescriptorPool::global();
        let int32 = global
            .get_message_by_name("google.protobuf.Int32Value")
            .unwrap();
        let value = text_value(&Kind::Message(int32.clone()), "-5").unwrap();
        assert_eq!(encode_message(value.as_message().unwrap()), json!(-5));
        assert_eq!(text_value(&Kind::Message(int32), "x"), None);
        assert_eq!(text_value(&Kind::Double, "1.5"), Some(PValue::F64(1.5)));
        assert_eq!(text_value(&Kind::Double, "NaN"), None);
        assert_eq!(
            text_value(&Kind::Bytes, "aGk="),
            Some(PValue::Bytes(b"hi".to_vec().into()))
        );
        assert_eq!(text_value(&Kind::Int64, "-12"), Some(PValue::I64(-12)));
        assert_eq!(text_value(&Kind::Uint32, "-1"), None);
    }
}
