//! Responses to JSON: every field present (`null` when unset), 64-bit
//! integers as numbers, lower-case enum names, well-known types in their
//! JSON form (RFC 3339 timestamps with six fractional digits), and
//! `response_body` selecting one field.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, ReflectMessage as _, Value as PValue,
};
use serde_json::{Number, Value as Json};

use super::scalars::{LIST_VALUE, STRUCT, TIMESTAMP, VALUE, enum_json, is_wrapper};

/// Encodes a message to the API's JSON (docs/api.md#response-format); `response_body` selects one field
/// (an unknown field name encodes the whole message).
pub(super) fn encode_response(message: &DynamicMessage, response_body: Option<&str>) -> Json {
    match response_body.and_then(|name| message.descriptor().get_field_by_name(name)) {
        Some(field) => encode_field(message, &field),
        None => encode_message(message),
    }
}

/// Encodes a message (well-known types as their JSON form, others as an object
/// holding every field).
pub(super) fn encode_message(message: &DynamicMessage) -> Json {
    let desc = message.descriptor();
    match desc.full_name() {
        TIMESTAMP => {
            let secs = message
                .get_field_by_name("seconds")
                .and_then(|v| v.as_i64());
            let nanos = message.get_field_by_name("nanos").and_then(|v| v.as_i32());
            let nanos = nanos.and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
            secs.and_then(|s| DateTime::<Utc>::from_timestamp(s, nanos))
                .map_or(Json::Null, |t| {
                    Json::String(t.to_rfc3339_opts(SecondsFormat::Micros, true))
                })
        }
        STRUCT | LIST_VALUE => match desc.fields().next() {
            Some(field) => encode_field(message, &field),
            None => Json::Null,
        },
        VALUE => match message.fields().next() {
            Some((field, value)) if field.name() != "null_value" => {
                encode_value(&field.kind(), value)
            }
            _ => Json::Null,
        },
        name if is_wrapper(name) => match desc.get_field_by_name("value") {
            Some(field) => encode_value(&field.kind(), &message.get_field(&field)),
            None => Json::Null,
        },
        _ => Json::Object(
            desc.fields()
                .map(|f| (f.name().to_owned(), encode_field(message, &f)))
                .collect(),
        ),
    }
}

fn encode_field(message: &DynamicMessage, field: &FieldDescriptor) -> Json {
    if field.supports_presence() && !message.has_field(field) {
        return Json::Null;
    }
    let value = message.get_field(field);
    if let (Some(map), Kind::Message(entry)) = (value.as_map(), field.kind()) {
        let kind = entry.map_entry_value_field().kind();
        return Json::Object(
            map.iter()
                .map(|(k, v)| (map_key_string(k), encode_value(&kind, v)))
                .collect(),
        );
    }
    encode_value(&field.kind(), &value)
}

fn map_key_string(key: &MapKey) -> String {
    match key {
        MapKey::String(s) => s.clone(),
        other => encode_value(&Kind::Bool, &PValue::from(other.clone())).to_string(),
    }
}

fn encode_value(kind: &Kind, value: &PValue) -> Json {
    match value {
        PValue::Bool(b) => Json::Bool(*b),
        PValue::I32(n) => Json::from(*n),
        PValue::I64(n) => Json::from(*n),
        PValue::U32(n) => Json::from(*n),
        PValue::U64(n) => Json::from(*n),
        // Through the shortest decimal form, so 0.1f32 stays 0.1.
        PValue::F32(f) => float_json(f.to_string().parse().unwrap_or(f64::NAN)),
        PValue::F64(f) => float_json(*f),
        PValue::String(s) => Json::String(s.clone()),
        PValue::Bytes(b) => Json::String(STANDARD.encode(b)),
        PValue::EnumNumber(n) => match kind {
            Kind::Enum(e) => enum_json(e, *n),
            _ => Json::from(*n),
        },
        PValue::Message(m) => encode_message(m),
        PValue::List(items) => Json::Array(items.iter().map(|v| encode_value(kind, v)).collect()),
        PValue::Map(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (map_key_string(k), encode_value(kind, v)))
                .collect(),
        ),
    }
}

/// A double as JSON; integral values within 2^53 print without a fraction
/// (`1`, not `1.0`), so integers in `google.protobuf.Struct` round-trip.
fn float_json(f: f64) -> Json {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if f.fract() == 0.0 && f.abs() < EXACT {
        #[expect(clippy::cast_possible_truncation, reason = "integral and below 2^53")]
        return Json::from(f as i64);
    }
    Number::from_f64(f).map_or(Json::Null, Json::Number)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fixtures::{decode, desc};
    use super::*;

    #[test]
    fn empty_message_has_every_field() {
        let thing = DynamicMessage::new(desc("Thing"));
        assert_eq!(
            encode_message(&thing),
            json!({
                "id": "", "name": "", "note": null, "count": 0, "big": 0, "flag": false,
                "created_at": null, "settings": null, "inner": null, "tags": [],
                "color": null, "ratio": 0, "inners": [], "labels": {}
            })
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
        let out = encode_message(&thing);
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
    }

    #[test]
    fn response_body_selects_a_field() {
        let (thing, _) = decode("Thing", json!({"id": "a", "tags": ["t"]}));
        let mut list = DynamicMessage::new(desc("ListThingsResponse"));
        list.set_field_by_name("things", PValue::List(vec![PValue::Message(thing)]));
        let out = encode_response(&list, Some("things"));
        assert_eq!(out.as_array().unwrap().len(), 1);
        assert_eq!(out[0]["id"], json!("a"));
        assert_eq!(out[0]["tags"], json!(["t"]));
        assert_eq!(out[0]["note"], Json::Null);
        let empty = DynamicMessage::new(desc("ListThingsResponse"));
        assert_eq!(encode_response(&empty, Some("things")), json!([]));
        assert_eq!(encode_response(&empty, None), json!({"things": []}));
        assert_eq!(encode_response(&empty, Some("nope")), json!({"things": []}));
    }

    #[test]
    fn floats() {
        let mut thing = DynamicMessage::new(desc("Thing"));
        thing.set_field_by_name("ratio", PValue::F64(f64::NAN));
        assert_eq!(encode_message(&thing)["ratio"], Json::Null);
        assert_eq!(encode_value(&Kind::Float, &PValue::F32(0.1)), json!(0.1));
        assert_eq!(
            encode_value(&Kind::Float, &PValue::F32(f32::INFINITY)),
            Json::Null
        );
    }
}
