//! The contract's JSON mapping of protobuf messages, both ways: encoding of
//! responses (every field present, `null` when unset, 64-bit integers as numbers,
//! lower-case enum names, RFC 3339 timestamps with six fractional digits) and
//! decoding of JSON request bodies into `DynamicMessage`s with per-field error
//! paths (`inner.level`, `tags.0`). Also owns the scalar helpers (integers from
//! text, enum names, timestamps) shared with query, path and form decoding.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chrono::{DateTime, SecondsFormat, Utc};
use prost_reflect::{
    DynamicMessage, EnumDescriptor, FieldDescriptor, Kind, MapKey, MessageDescriptor,
    ReflectMessage as _, Value as PValue,
};
use serde_json::{Map, Number, Value as Json};

use super::request::FieldError;

/// Error message for a string that contains U+0000.
pub const NUL_MESSAGE: &str = "String must not contain NUL characters";
const TIMESTAMP: &str = "google.protobuf.Timestamp";
const STRUCT: &str = "google.protobuf.Struct";
const VALUE: &str = "google.protobuf.Value";
const LIST_VALUE: &str = "google.protobuf.ListValue";

/// Encodes a message to the contract's JSON; `response_body` selects one field
/// (an unknown field name encodes the whole message).
pub fn encode_response(message: &DynamicMessage, response_body: Option<&str>) -> Json {
    match response_body.and_then(|name| message.descriptor().get_field_by_name(name)) {
        Some(field) => encode_field(message, &field),
        None => encode_message(message),
    }
}

/// Encodes a message (well-known types as their JSON form, others as an object
/// holding every field).
pub fn encode_message(message: &DynamicMessage) -> Json {
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

/// Whether `full_name` is one of the `google.protobuf.*Value` wrapper types.
pub fn is_wrapper(full_name: &str) -> bool {
    const WRAPPERS: [&str; 9] = [
        "Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes",
    ];
    let short = full_name.strip_prefix("google.protobuf.");
    short
        .and_then(|n| n.strip_suffix("Value"))
        .is_some_and(|n| WRAPPERS.contains(&n))
}

/// Contract name of an enum value: the value name without the enum's type-name
/// prefix, lower-cased. `None` for a zero `*_UNSPECIFIED` value (encoded as null).
pub fn enum_value_name(desc: &EnumDescriptor, number: i32) -> Option<String> {
    let value = desc.get_value(number)?;
    if number == 0 && value.name().ends_with("_UNSPECIFIED") {
        return None;
    }
    let mut prefix = String::new();
    let mut prev_lower = false;
    for c in desc.name().chars() {
        if c.is_ascii_uppercase() && prev_lower {
            prefix.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        prefix.push(c.to_ascii_uppercase());
    }
    prefix.push('_');
    let name = value.name();
    Some(
        name.strip_prefix(&prefix)
            .unwrap_or(name)
            .to_ascii_lowercase(),
    )
}

/// Number of the enum value whose contract name is exactly `name`.
pub fn enum_number(desc: &EnumDescriptor, name: &str) -> Option<i32> {
    desc.values()
        .find(|v| enum_value_name(desc, v.number()).as_deref() == Some(name))
        .map(|v| v.number())
}

fn enum_json(desc: &EnumDescriptor, number: i32) -> Json {
    match desc.get_value(number) {
        Some(_) => enum_value_name(desc, number).map_or(Json::Null, Json::String),
        None => Json::from(number),
    }
}

/// 422 message for an enum: `Input should be 'a', 'b' or 'c'`.
pub fn enum_error(desc: &EnumDescriptor) -> String {
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
pub fn int_from_str(kind: &Kind, text: &str) -> Option<PValue> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    int_value(kind, text.parse::<i128>().ok()?)
}

fn int_value(kind: &Kind, n: i128) -> Option<PValue> {
    Some(match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => PValue::I32(i32::try_from(n).ok()?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => PValue::I64(i64::try_from(n).ok()?),
        Kind::Uint32 | Kind::Fixed32 => PValue::U32(u32::try_from(n).ok()?),
        Kind::Uint64 | Kind::Fixed64 => PValue::U64(u64::try_from(n).ok()?),
        _ => return None,
    })
}

/// Builds a `google.protobuf.Timestamp` from an RFC 3339 string.
pub fn timestamp_from_str(desc: &MessageDescriptor, text: &str) -> Option<DynamicMessage> {
    let t = DateTime::parse_from_rfc3339(text).ok()?;
    let mut m = DynamicMessage::new(desc.clone());
    m.set_field_by_name("seconds", PValue::I64(t.timestamp()));
    m.set_field_by_name(
        "nanos",
        PValue::I32(i32::try_from(t.timestamp_subsec_nanos()).ok()?),
    );
    Some(m)
}

/// Joins a field path: `a` + `b` → `a.b`.
pub fn join_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// JSON → message decoder that collects every problem with its field path.
pub struct JsonDecoder<'e> {
    /// Problems found so far.
    pub errors: &'e mut Vec<FieldError>,
}

impl JsonDecoder<'_> {
    fn fail(&mut self, path: &str, message: impl Into<String>) -> Option<PValue> {
        self.errors.push(FieldError {
            field: (!path.is_empty()).then(|| path.to_owned()),
            message: message.into(),
        });
        None
    }

    /// Decodes a JSON object into a message of `desc`, ignoring unknown members
    /// and the top-level members named in `skip`.
    pub fn message(
        &mut self,
        desc: &MessageDescriptor,
        object: &Map<String, Json>,
        path: &str,
        skip: &[&str],
    ) -> DynamicMessage {
        let mut message = DynamicMessage::new(desc.clone());
        for (name, json) in object {
            if skip.contains(&name.as_str()) {
                continue;
            }
            if let Some(field) = desc.get_field_by_name(name)
                && let Some(value) = self.field(&field, json, &join_path(path, name))
            {
                message.set_field(&field, value);
            }
        }
        message
    }

    /// Decodes the JSON value of one field; `None` leaves the field unset (JSON
    /// null on a field with presence, or an error that was recorded).
    pub fn field(&mut self, field: &FieldDescriptor, json: &Json, path: &str) -> Option<PValue> {
        let kind = field.kind();
        if json.is_null() {
            let null_ok = field.is_list()
                || field.is_map()
                || (field.supports_presence() && !is_message(&kind, VALUE));
            if null_ok {
                return None;
            }
        }
        if field.is_map() {
            let Kind::Message(entry) = &kind else {
                return None;
            };
            let Some(object) = json.as_object() else {
                return self.fail(path, "Input should be a valid object");
            };
            let key_kind = entry.map_entry_key_field().kind();
            let value_kind = entry.map_entry_value_field().kind();
            let mut map = std::collections::HashMap::new();
            for (key, item) in object {
                let item_path = join_path(path, key);
                let Some(key) = self.map_key(&key_kind, key, &item_path) else {
                    continue;
                };
                if let Some(v) = self.single(&value_kind, item, &item_path) {
                    map.insert(key, v);
                }
            }
            return Some(PValue::Map(map));
        }
        if field.is_list() {
            let Some(items) = json.as_array() else {
                return self.fail(path, "Input should be a valid list");
            };
            let before = self.errors.len();
            let list: Vec<PValue> = items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| self.single(&kind, item, &join_path(path, &i.to_string())))
                .collect();
            return (self.errors.len() == before).then_some(PValue::List(list));
        }
        self.single(&kind, json, path)
    }

    fn map_key(&mut self, kind: &Kind, key: &str, path: &str) -> Option<MapKey> {
        let parsed = match kind {
            Kind::String if !key.contains('\0') => Some(PValue::String(key.to_owned())),
            Kind::Bool if key == "true" || key == "false" => Some(PValue::Bool(key == "true")),
            _ => int_from_str(kind, key),
        };
        let key = parsed.and_then(PValue::into_map_key);
        if key.is_none() {
            self.fail(path, text_error(kind));
        }
        key
    }

    /// Decodes one (non-repeated) value of `kind`.
    fn single(&mut self, kind: &Kind, json: &Json, path: &str) -> Option<PValue> {
        match kind {
            Kind::String => match json.as_str() {
                Some(s) if s.contains('\0') => self.fail(path, NUL_MESSAGE),
                Some(s) => Some(PValue::String(s.to_owned())),
                None => self.fail(path, "Input should be a valid string"),
            },
            Kind::Bool => match json.as_bool() {
                Some(b) => Some(PValue::Bool(b)),
                None => self.fail(path, "Input should be a valid boolean"),
            },
            Kind::Double | Kind::Float => match json.as_f64() {
                Some(f) if *kind == Kind::Double => Some(PValue::F64(f)),
                #[expect(clippy::cast_possible_truncation, reason = "range checked")]
                Some(f) if f.abs() <= f64::from(f32::MAX) => Some(PValue::F32(f as f32)),
                _ => self.fail(path, "Input should be a valid number"),
            },
            Kind::Bytes => {
                let decoded = json.as_str().and_then(|s| {
                    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
                        .iter()
                        .find_map(|engine| engine.decode(s).ok())
                });
                match decoded {
                    Some(b) => Some(PValue::Bytes(b.into())),
                    None => self.fail(path, "Input should be a valid base64 string"),
                }
            }
            Kind::Enum(desc) => {
                let number = match json {
                    Json::Null => Some(0),
                    // Exactly the lower-case names (contract 1.7), never numbers.
                    Json::String(s) => enum_number(desc, s),
                    _ => None,
                };
                match number {
                    Some(n) => Some(PValue::EnumNumber(n)),
                    None => self.fail(path, enum_error(desc)),
                }
            }
            Kind::Message(desc) => self.message_value(desc, json, path),
            _ => {
                let value = match json {
                    Json::Number(n) => n
                        .as_i64()
                        .map(i128::from)
                        .or(n.as_u64().map(i128::from))
                        .and_then(|n| int_value(kind, n)),
                    Json::String(s)
                        if matches!(int_value(kind, 0), Some(PValue::I64(_) | PValue::U64(_))) =>
                    {
                        int_from_str(kind, s)
                    }
                    _ => None,
                };
                match value {
                    Some(v) => Some(v),
                    None => self.fail(path, "Input should be a valid integer"),
                }
            }
        }
    }

    fn message_value(
        &mut self,
        desc: &MessageDescriptor,
        json: &Json,
        path: &str,
    ) -> Option<PValue> {
        let name = desc.full_name();
        let (ok, expected) = match name {
            TIMESTAMP => (json.is_string(), "datetime"),
            LIST_VALUE => (json.is_array(), "list"),
            _ => (
                name == VALUE || is_wrapper(name) || json.is_object(),
                "object",
            ),
        };
        let mut message = DynamicMessage::new(desc.clone());
        let before = self.errors.len();
        match (name, json) {
            (_, _) if !ok => return self.fail(path, format!("Input should be a valid {expected}")),
            (TIMESTAMP, _) => match json.as_str().and_then(|s| timestamp_from_str(desc, s)) {
                Some(m) => message = m,
                None => return self.fail(path, "Input should be a valid datetime"),
            },
            (VALUE, _) => message = self.struct_value(desc, json, path)?,
            _ if name == STRUCT || name == LIST_VALUE || is_wrapper(name) => {
                // Struct.fields, ListValue.values, wrapper.value: the JSON is that field.
                let field = desc.fields().next()?;
                message.set_field(&field, self.field(&field, json, path)?);
            }
            (_, Json::Object(object)) => message = self.message(desc, object, path, &[]),
            _ => return None,
        }
        (self.errors.len() == before).then_some(PValue::Message(message))
    }

    fn struct_value(
        &mut self,
        desc: &MessageDescriptor,
        json: &Json,
        path: &str,
    ) -> Option<DynamicMessage> {
        let mut m = DynamicMessage::new(desc.clone());
        let (name, value) = match json {
            Json::Null => ("null_value", PValue::EnumNumber(0)),
            Json::Bool(b) => ("bool_value", PValue::Bool(*b)),
            Json::Number(n) if !is_exact_in_double(n) => {
                self.fail(path, INEXACT_NUMBER);
                return None;
            }
            Json::Number(n) => ("number_value", PValue::F64(n.as_f64().unwrap_or(f64::NAN))),
            Json::String(s) if s.contains('\0') => {
                self.fail(path, NUL_MESSAGE);
                return None;
            }
            Json::String(s) => ("string_value", PValue::String(s.clone())),
            Json::Array(_) | Json::Object(_) => {
                let name = if json.is_array() {
                    "list_value"
                } else {
                    "struct_value"
                };
                let field = desc.get_field_by_name(name)?;
                let Kind::Message(inner) = field.kind() else {
                    return None;
                };
                (name, self.message_value(&inner, json, path)?)
            }
        };
        m.set_field_by_name(name, value);
        Some(m)
    }
}

/// 422 message for an integer that free-form JSON would not store exactly.
pub const INEXACT_NUMBER: &str =
    "Integers must be between -9007199254740991 and 9007199254740991 (send larger ones as strings)";

/// Free-form JSON (`google.protobuf.Value`) holds numbers as doubles: an
/// integer beyond 2^53 - 1 would come back changed, so it is refused rather
/// than silently rounded. Fractions are doubles already when parsed.
fn is_exact_in_double(n: &Number) -> bool {
    const MAX_SAFE: u64 = (1 << 53) - 1;
    match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => u <= MAX_SAFE,
        (None, Some(i)) => i.unsigned_abs() <= MAX_SAFE,
        (None, None) => true,
    }
}

/// 422 message for text that is not a valid `kind` (strings: only NUL is invalid).
pub fn text_error(kind: &Kind) -> &'static str {
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

fn is_message(kind: &Kind, full_name: &str) -> bool {
    matches!(kind, Kind::Message(m) if m.full_name() == full_name)
}

#[cfg(test)]
mod tests {
    use prost_reflect::DescriptorPool;
    use serde_json::json;

    use super::*;

    fn pool() -> DescriptorPool {
        DescriptorPool::decode(
            &include_bytes!(concat!(env!("OUT_DIR"), "/testing_descriptor.bin"))[..],
        )
        .unwrap()
    }

    fn desc(name: &str) -> MessageDescriptor {
        pool()
            .get_message_by_name(&format!("testing.v1.{name}"))
            .unwrap()
    }

    fn decode(name: &str, json: Json) -> (DynamicMessage, Vec<FieldError>) {
        let mut errors = Vec::new();
        let message = JsonDecoder {
            errors: &mut errors,
        }
        .message(&desc(name), json.as_object().unwrap(), "", &[]);
        (message, errors)
    }

    fn err(field: &str, message: &str) -> FieldError {
        FieldError {
            field: Some(field.to_owned()),
            message: message.to_owned(),
        }
    }

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
        assert_eq!(enum_json(&color, 0), Json::Null);
        assert_eq!(enum_json(&color, 7), json!(7));
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

    #[test]
    fn nulls_on_decode() {
        let (thing, errors) = decode(
            "Thing",
            json!({"note": null, "inner": null, "tags": null, "settings": null}),
        );
        assert!(errors.is_empty());
        assert!(!thing.has_field_by_name("note"));
        assert!(!thing.has_field_by_name("inner"));
        let (_, errors) = decode("Thing", json!({"name": null, "count": null, "flag": null}));
        assert_eq!(
            errors,
            vec![
                err("count", "Input should be a valid integer"),
                err("flag", "Input should be a valid boolean"),
                err("name", "Input should be a valid string"),
            ]
        );
    }

    #[test]
    fn type_mismatches_are_all_reported_with_paths() {
        let (_, errors) = decode(
            "Thing",
            json!({
                "count": 1.0, "big": "12x", "inner": {"level": "2"}, "tags": ["ok", 3],
                "inners": [{}, {"label": 5}], "labels": {"k": 1}, "created_at": "yesterday",
                "settings": [], "color": "purple", "ratio": "1", "id": "a\u{0}b", "name": 1,
                "unknown": {"ignored": true}
            }),
        );
        let fields: Vec<_> = errors
            .iter()
            .map(|e| (e.field.clone().unwrap(), e.message.as_str()))
            .collect();
        let expected = [
            ("big", "Input should be a valid integer"),
            ("color", "Input should be 'red' or 'dark_blue'"),
            ("count", "Input should be a valid integer"),
            ("created_at", "Input should be a valid datetime"),
            ("id", NUL_MESSAGE),
            ("inner.level", "Input should be a valid integer"),
            ("inners.1.label", "Input should be a valid string"),
            ("labels.k", "Input should be a valid string"),
            ("name", "Input should be a valid string"),
            ("ratio", "Input should be a valid number"),
            ("settings", "Input should be a valid object"),
            ("tags.1", "Input should be a valid string"),
        ];
        let expected: Vec<_> = expected
            .iter()
            .map(|(f, m)| ((*f).to_owned(), *m))
            .collect();
        assert_eq!(fields, expected);
    }

    #[test]
    fn free_form_numbers_are_exact_or_refused() {
        let (thing, errors) = decode(
            "Thing",
            json!({"settings": {"safe": 9_007_199_254_740_991_u64, "neg": -9_007_199_254_740_991_i64, "f": 0.1}}),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let settings = encode_message(&thing)["settings"].clone();
        assert_eq!(settings["safe"], json!(9_007_199_254_740_991_u64));
        assert_eq!(settings["f"], json!(0.1));
        for big in [
            json!(9_007_199_254_740_993_u64),
            json!(12_345_678_901_234_567_890_u64),
            json!(-9_007_199_254_740_993_i64),
        ] {
            let (_, errors) = decode("Thing", json!({"settings": {"x": [1, big]}}));
            assert_eq!(errors, vec![err("settings.x.1", INEXACT_NUMBER)]);
        }
    }

    #[test]
    fn integers() {
        let (thing, errors) = decode("Thing", json!({"big": "-9223372036854775808", "count": 7}));
        assert!(errors.is_empty());
        assert_eq!(
            thing.get_field_by_name("big").unwrap().as_i64(),
            Some(i64::MIN)
        );
        assert_eq!(thing.get_field_by_name("count").unwrap().as_i32(), Some(7));
        let (_, errors) = decode("Thing", json!({"count": "7"}));
        assert_eq!(
            errors,
            vec![err("count", "Input should be a valid integer")]
        );
        let (_, errors) = decode("Thing", json!({"count": 2_147_483_648_i64}));
        assert_eq!(
            errors,
            vec![err("count", "Input should be a valid integer")]
        );
        assert_eq!(int_from_str(&Kind::Int32, "+5"), Some(PValue::I32(5)));
        assert_eq!(int_from_str(&Kind::Int32, "-5"), Some(PValue::I32(-5)));
        assert_eq!(int_from_str(&Kind::Int32, " 5"), None);
        assert_eq!(int_from_str(&Kind::Int32, "5e2"), None);
        assert_eq!(int_from_str(&Kind::Uint32, "-1"), None);
        assert_eq!(int_from_str(&Kind::Int32, "-"), None);
    }

    #[test]
    fn wrappers_and_bytes() {
        let global = DescriptorPool::global();
        let wkt = |n: &str| {
            global
                .get_message_by_name(&format!("google.protobuf.{n}"))
                .unwrap()
        };
        let mut errors = Vec::new();
        let mut decoder = JsonDecoder {
            errors: &mut errors,
        };
        let cases = [
            ("StringValue", json!("x")),
            ("Int64Value", json!(9_007_199_254_740_993_i64)),
            ("BoolValue", json!(false)),
            ("BytesValue", json!("aGk/")),
            ("DoubleValue", json!(1.5)),
        ];
        for (name, value) in cases {
            let decoded = decoder.message_value(&wkt(name), &value, "w").unwrap();
            assert_eq!(
                encode_message(decoded.as_message().unwrap()),
                value,
                "{name}"
            );
        }
        let bytes = decoder
            .message_value(&wkt("BytesValue"), &json!("aGk_"), "b")
            .unwrap();
        let inner = bytes
            .as_message()
            .unwrap()
            .get_field_by_name("value")
            .unwrap();
        assert_eq!(inner.as_bytes().unwrap().as_ref(), b"hi?");
        assert!(
            decoder
                .message_value(&wkt("Int32Value"), &json!("1"), "i")
                .is_none()
        );
        assert!(
            decoder
                .message_value(&wkt("BytesValue"), &json!("%%"), "b")
                .is_none()
        );
        assert_eq!(
            errors,
            vec![
                err("i", "Input should be a valid integer"),
                err("b", "Input should be a valid base64 string")
            ]
        );
        assert!(is_wrapper("google.protobuf.UInt32Value"));
        assert!(!is_wrapper("google.protobuf.Value"));
        assert!(!is_wrapper("google.protobuf.Timestamp"));
        assert_eq!(
            text_error(&Kind::Message(wkt("BoolValue"))),
            "Input should be a valid boolean"
        );
    }
}
