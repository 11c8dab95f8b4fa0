//! Responses to JSON, written straight to bytes: every field present (`null`
//! when unset) in field-number order, 64-bit integers as numbers, lower-case
//! enum names, well-known types in their JSON form (RFC 3339 timestamps with
//! six fractional digits), map entries in key order, and `response_body`
//! selecting one field.
//!
//! The serializers below walk the decoded message once and write each value
//! as they reach it; no intermediate JSON tree is built.

use std::fmt::{self, Write as _};

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, ReflectMessage as _, Value as PValue,
};
use serde::ser::{Serialize, SerializeMap as _, SerializeSeq as _, Serializer};

use super::scalars::{LIST_VALUE, STRUCT, TIMESTAMP, VALUE, is_wrapper, without_type_prefix};

/// Encodes a message to the API's JSON (docs/api.md#response-format);
/// `response_body` selects one field (an unknown field name encodes the whole
/// message).
pub(super) fn encode_response(
    message: &DynamicMessage,
    response_body: Option<&str>,
) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(512);
    match response_body.and_then(|name| message.descriptor().get_field_by_name(name)) {
        Some(field) => serde_json::to_writer(&mut out, &Field(message, &field))?,
        None => serde_json::to_writer(&mut out, &Message(message))?,
    }
    Ok(out)
}

/// A message: well-known types as their JSON form, others as an object
/// holding every field.
struct Message<'a>(&'a DynamicMessage);

impl Serialize for Message<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let message = self.0;
        let desc = message.descriptor();
        match desc.full_name() {
            TIMESTAMP => match timestamp(message) {
                Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true)),
                None => s.serialize_none(),
            },
            STRUCT | LIST_VALUE => match desc.fields().next() {
                Some(field) => Field(message, &field).serialize(s),
                None => s.serialize_none(),
            },
            VALUE => match message.fields().next() {
                Some((field, value)) if field.name() != "null_value" => Value {
                    kind: &field.kind(),
                    value,
                }
                .serialize(s),
                _ => s.serialize_none(),
            },
            name if is_wrapper(name) => match desc.get_field_by_name("value") {
                Some(field) => Value {
                    kind: &field.kind(),
                    value: &message.get_field(&field),
                }
                .serialize(s),
                None => s.serialize_none(),
            },
            _ => {
                let mut object = s.serialize_map(Some(desc.fields().len()))?;
                for field in desc.fields() {
                    object.serialize_entry(field.name(), &Field(message, &field))?;
                }
                object.end()
            }
        }
    }
}

fn timestamp(message: &DynamicMessage) -> Option<DateTime<Utc>> {
    let secs = message.get_field_by_name("seconds")?.as_i64()?;
    let nanos = message.get_field_by_name("nanos").and_then(|v| v.as_i32());
    let nanos = nanos.and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
    DateTime::<Utc>::from_timestamp(secs, nanos)
}

/// One field of a message: `null` when a field with presence is unset.
struct Field<'a>(&'a DynamicMessage, &'a FieldDescriptor);

impl Serialize for Field<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Self(message, field) = *self;
        if field.supports_presence() && !message.has_field(field) {
            return s.serialize_none();
        }
        let value = message.get_field(field);
        let kind = field.kind();
        if let (Some(map), Kind::Message(entry)) = (value.as_map(), &kind) {
            let kind = entry.map_entry_value_field().kind();
            return serialize_map(s, &kind, map);
        }
        Value {
            kind: &kind,
            value: &value,
        }
        .serialize(s)
    }
}

/// A value of a field whose type is `kind` (for a list, of its items).
struct Value<'a> {
    kind: &'a Kind,
    value: &'a PValue,
}

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.value {
            PValue::Bool(b) => s.serialize_bool(*b),
            PValue::I32(n) => s.serialize_i32(*n),
            PValue::I64(n) => s.serialize_i64(*n),
            PValue::U32(n) => s.serialize_u32(*n),
            PValue::U64(n) => s.serialize_u64(*n),
            // Through the shortest decimal form, so 0.1f32 stays 0.1.
            PValue::F32(f) => serialize_double(s, f.to_string().parse().unwrap_or(f64::NAN)),
            PValue::F64(f) => serialize_double(s, *f),
            PValue::String(text) => s.serialize_str(text),
            PValue::Bytes(b) => s.collect_str(&Base64Display::new(b, &STANDARD)),
            PValue::EnumNumber(n) => match self.kind {
                Kind::Enum(e) => match e.get_value(*n) {
                    None => s.serialize_i32(*n),
                    Some(v) if *n == 0 && v.name().ends_with("_UNSPECIFIED") => s.serialize_none(),
                    Some(v) => s.collect_str(&Lower(without_type_prefix(e.name(), v.name()))),
                },
                _ => s.serialize_i32(*n),
            },
            PValue::Message(m) => Message(m).serialize(s),
            PValue::List(items) => {
                let mut list = s.serialize_seq(Some(items.len()))?;
                for value in items {
                    list.serialize_element(&Value {
                        kind: self.kind,
                        value,
                    })?;
                }
                list.end()
            }
            PValue::Map(map) => serialize_map(s, self.kind, map),
        }
    }
}

/// A double; integral values within 2^53 print without a fraction (`1`, not
/// `1.0`), so integers in `google.protobuf.Struct` round-trip. NaN and the
/// infinities, which JSON cannot hold, are `null`.
fn serialize_double<S: Serializer>(s: S, f: f64) -> Result<S::Ok, S::Error> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if f.fract() == 0.0 && f.abs() < EXACT {
        #[expect(clippy::cast_possible_truncation, reason = "integral and below 2^53")]
        return s.serialize_i64(f as i64);
    }
    if f.is_finite() {
        s.serialize_f64(f)
    } else {
        s.serialize_none()
    }
}

/// A protobuf map as a JSON object, entries sorted by key so the output does
/// not depend on hash order.
fn serialize_map<S: Serializer>(
    s: S,
    kind: &Kind,
    map: &std::collections::HashMap<MapKey, PValue>,
) -> Result<S::Ok, S::Error> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut object = s.serialize_map(Some(entries.len()))?;
    for (key, value) in entries {
        object.serialize_entry(&Key(key), &Value { kind, value })?;
    }
    object.end()
}

/// A map key as a JSON object key (always a string).
struct Key<'a>(&'a MapKey);

impl Serialize for Key<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            MapKey::String(text) => s.serialize_str(text),
            MapKey::Bool(b) => s.serialize_str(if *b { "true" } else { "false" }),
            MapKey::I32(n) => s.collect_str(n),
            MapKey::I64(n) => s.collect_str(n),
            MapKey::U32(n) => s.collect_str(n),
            MapKey::U64(n) => s.collect_str(n),
        }
    }
}

/// Text written in ASCII lower case, without an intermediate string.
struct Lower<'a>(&'a str);

impl fmt::Display for Lower<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0
            .chars()
            .try_for_each(|c| f.write_char(c.to_ascii_lowercase()))
    }
}

/// A message as a JSON value, for tests that compare structure.
#[cfg(test)]
pub(super) fn encode_message(message: &DynamicMessage) -> serde_json::Value {
    serde_json::to_value(Message(message)).expect("a message always encodes")
}

#[cfg(test)]
mod tests {
    use serde_json::{Value as Json, json};

    use super::super::fixtures::{decode, desc};
    use super::*;

    fn text(message: &DynamicMessage) -> String {
        String::from_utf8(encode_response(message, None).unwrap()).unwrap()
    }

    fn value(kind: &Kind, value: &PValue) -> Json {
        serde_json::to_value(Value { kind, value }).unwrap()
    }

    #[test]
    fn empty_message_has_every_field_in_field_number_order() {
        let thing = DynamicMessage::new(desc("Thing"));
        assert_eq!(
            text(&thing),
            r#"{"id":"","name":"","note":null,"count":0,"big":0,"flag":false,"#.to_owned()
                + r#""created_at":null,"settings":null,"inner":null,"tags":[],"#
                + r#""color":null,"ratio":0,"inners":[],"labels":{}}"#
        );
    }

    #[test]
    fn full_message_round_trips() {
        let input = json!({
            "id": "t1", "name": "n", "note": "", "count": -3, "big": 9_007_199_254_740_993_i64,
            "flag": true, "created_at": "2025-01-05T11:20:30.123456789+01:00",
            "settings": {"theme": "dark", "n": 1.5, "l": [true, null, "x"], "o": {}},
            "inner": {"label": "a", "level": 2}, "tags": ["x", "y"], "color": "dark_blue",
            "ratio": 0.25, "inners": [{"label": "b", "level": null}], "labels": {"k": "v"}
        });
        let (thing, errors) = decode("Thing", input);
        assert_eq!(errors, vec![]);
        let out: Json = serde_json::from_str(&text(&thing)).unwrap();
        assert_eq!(
            out,
            json!({
                "id": "t1", "name": "n", "note": "", "count": -3, "big": 9_007_199_254_740_993_i64,
                "flag": true, "created_at": "2025-01-05T10:20:30.123456Z",
                "settings": {"theme": "dark", "n": 1.5, "l": [true, null, "x"], "o": {}},
                "inner": {"label": "a", "level": 2}, "tags": ["x", "y"], "color": "dark_blue",
                "ratio": 0.25, "inners": [{"label": "b", "level": null}], "labels": {"k": "v"}
            })
        );
        // 64-bit integers are JSON numbers, never strings.
        assert!(out["big"].is_i64());
        assert_eq!(encode_message(&thing), out);
    }

    #[test]
    fn map_entries_are_sorted_by_key() {
        let labels: serde_json::Map<String, Json> = (0..40)
            .map(|i| (format!("k{i:02}"), json!(format!("v{i}"))))
            .collect();
        let (thing, errors) = decode("Thing", json!({ "labels": labels }));
        assert_eq!(errors, vec![]);
        let out = text(&thing);
        let positions: Vec<usize> = (0..40)
            .map(|i| out.find(&format!("\"k{i:02}\"")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{out}");
    }

    #[test]
    fn strings_are_escaped() {
        let (thing, _) = decode("Thing", json!({"name": "a\"b\\c\n\u{1}é"}));
        let out: Json = serde_json::from_str(&text(&thing)).unwrap();
        assert_eq!(out["name"], json!("a\"b\\c\n\u{1}é"));
    }

    #[test]
    fn response_body_selects_a_field() {
        let (thing, _) = decode("Thing", json!({"id": "a", "tags": ["t"]}));
        let mut list = DynamicMessage::new(desc("ListThingsResponse"));
        list.set_field_by_name("things", PValue::List(vec![PValue::Message(thing)]));
        let encode = |m: &DynamicMessage, body| -> Json {
            serde_json::from_slice(&encode_response(m, body).unwrap()).unwrap()
        };
        let out = encode(&list, Some("things"));
        assert_eq!(out.as_array().unwrap().len(), 1);
        assert_eq!(out[0]["id"], json!("a"));
        assert_eq!(out[0]["tags"], json!(["t"]));
        assert_eq!(out[0]["note"], Json::Null);
        let empty = DynamicMessage::new(desc("ListThingsResponse"));
        assert_eq!(encode(&empty, Some("things")), json!([]));
        assert_eq!(encode(&empty, None), json!({"things": []}));
        assert_eq!(encode(&empty, Some("nope")), json!({"things": []}));
    }

    #[test]
    fn floats() {
        let mut thing = DynamicMessage::new(desc("Thing"));
        thing.set_field_by_name("ratio", PValue::F64(f64::NAN));
        assert_eq!(encode_message(&thing)["ratio"], Json::Null);
        assert_eq!(value(&Kind::Float, &PValue::F32(0.1)), json!(0.1));
        assert_eq!(value(&Kind::Float, &PValue::F32(3.0)), json!(3));
        assert_eq!(value(&Kind::Float, &PValue::F32(f32::INFINITY)), Json::Null);
        assert_eq!(value(&Kind::Double, &PValue::F64(-2.0)), json!(-2));
        assert_eq!(value(&Kind::Double, &PValue::F64(1e300)), json!(1e300));
        assert_eq!(
            value(&Kind::Double, &PValue::F64(f64::NEG_INFINITY)),
            Json::Null
        );
    }

    #[test]
    fn enums_by_name() {
        let color = super::super::fixtures::pool()
            .get_enum_by_name("testing.v1.Color")
            .unwrap();
        let kind = Kind::Enum(color);
        assert_eq!(value(&kind, &PValue::EnumNumber(0)), Json::Null);
        assert_eq!(value(&kind, &PValue::EnumNumber(2)), json!("dark_blue"));
        assert_eq!(value(&kind, &PValue::EnumNumber(7)), json!(7));
    }

    #[test]
    fn bytes_are_base64() {
        assert_eq!(
            value(&Kind::Bytes, &PValue::Bytes(vec![0, 1, 0xfe, 0xff].into())),
            json!("AAH+/w==")
        );
    }
}
