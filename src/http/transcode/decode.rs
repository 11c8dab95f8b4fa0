//! JSON request bodies to messages, collecting every problem with its field
//! path (`inner.level`, `tags.0`) so one 422 lists them all.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value as PValue,
};
use serde_json::{Map, Number, Value as Json};

use super::scalars::{
    LIST_VALUE, NUL_MESSAGE, STRUCT, TIMESTAMP, VALUE, enum_error, enum_number, int_from_str,
    int_value, is_wrapper, text_error, timestamp_from_str,
};
use crate::error::FieldViolation;

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
    pub errors: &'e mut Vec<FieldViolation>,
}

impl JsonDecoder<'_> {
    fn fail(&mut self, path: &str, message: impl Into<String>) -> Option<PValue> {
        self.errors.push(FieldViolation {
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
                    // Exactly the lower-case names (docs/api.md#json-bodies), never numbers.
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

fn is_message(kind: &Kind, full_name: &str) -> bool {
    matches!(kind, Kind::Message(m) if m.full_name() == full_name)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::encode::encode_message;
    use super::*;
    use prost_reflect::DescriptorPool;

    use super::super::fixtures::{decode, err};
    use super::super::scalars::int_from_str;

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
