//! Request decoding of the REST transcoder: builds the request message of a
//! route from its path variables, the query string and the body (JSON,
//! `application/x-www-form-urlencoded` or `multipart/form-data`), collecting
//! every validation problem with its field path.
//!
//! Precedence: path variables are applied last and always win; query
//! parameters are read only when the body is not the whole message, and never
//! for names bound by the path or inside the body field. Errors of a body
//! bound to a field (`body: "thing"`) are reported relative to the body
//! (`inner.level`, not `thing.inner.level`).

use prost_reflect::{DynamicMessage, Kind, Value as PValue};
use serde_json::Value as Json;

use super::body::{DecodeError, parse_json_body};
use super::decode::JsonDecoder;
use super::form::parse_form_body;
use super::routes::{BodyFormat, BodySpec, Route};
use super::scalars::is_message;
use super::text::apply_text;
use crate::error::FieldViolation;

/// Builds the request message of `route` from path params, the raw query
/// string and the body.
pub fn decode_request(
    route: &Route,
    params: &[(String, String)],
    query: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, DecodeError> {
    let input = route.method.input();
    let mut errors = Vec::new();
    let bound: Vec<&str> = params.iter().map(|(name, _)| name.as_str()).collect();
    let mut message = DynamicMessage::new(input.clone());

    let body_field = match &route.body {
        BodySpec::Field(name) => input.get_field_by_name(name),
        _ => None,
    };
    if route.body != BodySpec::None {
        match route.body_format {
            BodyFormat::Json => {
                if let Some(json) = parse_json_body(content_type, body, &mut errors)? {
                    let mut decoder = JsonDecoder {
                        errors: &mut errors,
                    };
                    match (&body_field, json) {
                        (None, Json::Object(object)) => {
                            message = decoder.message(&input, &object, "", &bound);
                        }
                        (Some(field), json) if json.is_object() || !is_message(field) => {
                            if let Some(value) = decoder.field(field, &json, "") {
                                message.set_field(field, value);
                            }
                        }
                        _ => errors.push(FieldViolation::body("Input should be a valid object")),
                    }
                }
            }
            BodyFormat::Form => {
                let pairs = parse_form_body(content_type, body, &mut errors)?;
                match &body_field {
                    Some(field) => {
                        if let Kind::Message(desc) = field.kind() {
                            let mut sub = DynamicMessage::new(desc);
                            apply_text(&mut sub, &pairs, &[], &mut errors);
                            message.set_field(field, PValue::Message(sub));
                        }
                    }
                    None => apply_text(&mut message, &pairs, &bound, &mut errors),
                }
            }
        }
    }

    if route.body != BodySpec::Whole
        && let Some(query) = query
    {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut skip = bound.clone();
        if let Some(field) = &body_field {
            skip.push(field.name());
        }
        apply_text(&mut message, &pairs, &skip, &mut errors);
    }

    let mut path_errors = Vec::new();
    apply_text(&mut message, params, &[], &mut path_errors);
    path_errors.append(&mut errors);
    if path_errors.is_empty() && protobuf_depth(&message) > MAX_PROTOBUF_DEPTH {
        // Each JSON object inside a google.protobuf.Value costs three
        // protobuf levels; prost refuses more than 100 when the gRPC
        // service decodes the message.
        path_errors.push(FieldViolation::body("Request body is nested too deeply"));
    }
    if path_errors.is_empty() {
        Ok(message)
    } else {
        Err(DecodeError::Invalid(path_errors))
    }
}

/// Deepest protobuf nesting the gRPC decoder accepts, with a margin below
/// prost's recursion limit of 100.
const MAX_PROTOBUF_DEPTH: usize = 90;

/// Protobuf nesting depth of a message (map entries count as a level).
fn protobuf_depth(message: &DynamicMessage) -> usize {
    fn value_depth(value: &PValue) -> usize {
        match value {
            PValue::Message(m) => protobuf_depth(m),
            PValue::List(items) => items.iter().map(value_depth).max().unwrap_or(0),
            PValue::Map(map) => 1 + map.values().map(value_depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    1 + message
        .fields()
        .map(|(_, value)| value_depth(value))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use prost_reflect::DescriptorPool;
    use serde_json::json;

    use super::super::encode::encode_message;
    use super::super::routes::RouteTable;
    use super::super::scalars::NUL_MESSAGE;
    use super::*;

    const JSON: Option<&str> = Some("application/json");

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    fn table() -> RouteTable {
        let pool = DescriptorPool::decode(
            &include_bytes!(concat!(env!("OUT_DIR"), "/testing_descriptor.bin"))[..],
        )
        .unwrap();
        RouteTable::from_pool(&pool, "/api/v1").unwrap()
    }

    fn route<'a>(table: &'a RouteTable, name: &str) -> &'a Route {
        table.routes().find(|r| r.method.name() == name).unwrap()
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    fn ok(result: Result<DynamicMessage, DecodeError>) -> Json {
        match result {
            Ok(message) => encode_message(&message),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }

    fn invalid(result: Result<DynamicMessage, DecodeError>) -> Vec<(Option<String>, String)> {
        match result {
            Err(DecodeError::Invalid(errors)) => {
                errors.into_iter().map(|e| (e.field, e.message)).collect()
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn e(field: Option<&str>, message: &str) -> (Option<String>, String) {
        (field.map(str::to_owned), message.to_owned())
    }

    #[test]
    fn query_and_path() {
        let t = table();
        let query = "limit=5&verbose=YES&q=hi%20there+x&ids=a&ids=b&filter.label=x&filter.level=-3\
                     &unknown=1&limit=9&thing_id=zzz&filter.nope=1&filter=x";
        let out = ok(decode_request(
            route(&t, "GetThing"),
            &params(&[("thing_id", "a/b c")]),
            Some(query),
            None,
            b"",
        ));
        assert_eq!(
            out,
            json!({"thing_id": "a/b c", "limit": 5, "verbose": true, "q": "hi there x",
                   "ids": ["a", "b"], "filter": {"label": "x", "level": -3}})
        );
        let out = ok(decode_request(
            route(&t, "GetThing"),
            &params(&[("thing_id", "1")]),
            None,
            None,
            b"",
        ));
        assert_eq!(out["limit"], Json::Null);
        assert_eq!(out["ids"], json!([]));
    }

    #[test]
    fn query_booleans() {
        let t = table();
        for (text, expected) in [
            ("t", true),
            ("On", true),
            ("1", true),
            ("y", true),
            ("No", false),
            ("0", false),
            ("F", false),
            ("off", false),
        ] {
            let out = ok(decode_request(
                route(&t, "GetThing"),
                &[],
                Some(&format!("verbose={text}")),
                None,
                b"",
            ));
            assert_eq!(out["verbose"], json!(expected), "{text}");
        }
    }

    #[test]
    fn query_errors_are_collected() {
        let t = table();
        let errors = invalid(decode_request(
            route(&t, "GetThing"),
            &params(&[("thing_id", "a\0")]),
            Some("limit=abc&verbose=maybe&q=%00&ids=ok&ids=x%00&filter.level=1.5"),
            None,
            b"",
        ));
        assert_eq!(
            errors,
            vec![
                e(Some("thing_id"), NUL_MESSAGE),
                e(Some("limit"), "Input should be a valid integer"),
                e(Some("verbose"), "Input should be a valid boolean"),
                e(Some("q"), NUL_MESSAGE),
                e(Some("ids"), NUL_MESSAGE),
                e(Some("filter.level"), "Input should be a valid integer"),
            ]
        );
        let errors = invalid(decode_request(
            route(&t, "GetThing"),
            &[],
            Some("limit=2147483648"),
            None,
            b"",
        ));
        assert_eq!(
            errors,
            vec![e(Some("limit"), "Input should be a valid integer")]
        );
    }

    #[test]
    fn whole_json_body() {
        let t = table();
        let body = br#"{"id": "t", "name": "n", "count": 2, "big": "17", "unknown": [1]}"#;
        for ct in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            let out = ok(decode_request(
                route(&t, "CreateThing"),
                &[],
                Some("name=q&count=9"),
                Some(ct),
                body,
            ));
            assert_eq!(out["name"], json!("n"), "{ct}");
            assert_eq!(out["count"], json!(2));
            assert_eq!(out["big"], json!(17));
        }
    }

    #[test]
    fn field_body_beside_path_variable() {
        let t = table();
        let r = route(&t, "UpdateThing");
        let body = br#"{"name": "n", "inner": {"label": "l"}, "tags": ["a"]}"#;
        let out = ok(decode_request(
            r,
            &params(&[("thing_id", "t1")]),
            Some("thing.name=x"),
            JSON,
            body,
        ));
        assert_eq!(out["thing_id"], json!("t1"));
        assert_eq!(out["thing"]["name"], json!("n"));
        assert_eq!(out["thing"]["inner"], json!({"label": "l", "level": null}));
        assert_eq!(out["thing"]["tags"], json!(["a"]));
        let body = br#"{"inner": {"level": "x"}, "tags": ["a", 1], "count": true}"#;
        let errors = invalid(decode_request(
            r,
            &params(&[("thing_id", "t1")]),
            None,
            JSON,
            body,
        ));
        assert_eq!(
            errors,
            vec![
                e(Some("count"), "Input should be a valid integer"),
                e(Some("inner.level"), "Input should be a valid integer"),
                e(Some("tags.1"), "Input should be a valid string"),
            ]
        );
        let errors = invalid(decode_request(
            r,
            &params(&[("thing_id", "t1")]),
            None,
            JSON,
            b"[1]",
        ));
        assert_eq!(errors, vec![e(None, "Input should be a valid object")]);
    }

    #[test]
    fn body_level_problems() {
        let t = table();
        let r = route(&t, "CreateThing");
        let cases: [(Option<&str>, &[u8], &str); 6] = [
            (JSON, b"{\"name\": ", "Malformed JSON"),
            (JSON, b"[1, 2]", "Input should be a valid object"),
            (JSON, b"\"str\"", "Input should be a valid object"),
            (JSON, b" \n", "Field required"),
            (Some("text/plain"), b"{}", "Request body must be JSON"),
            (None, b"{}", "Request body must be JSON"),
        ];
        for (ct, body, message) in cases {
            assert_eq!(
                invalid(decode_request(r, &[], None, ct, body)),
                vec![e(None, message)]
            );
        }
        assert_eq!(
            decode_request(r, &[], None, JSON, b"{\"name\": \"\xff\"}"),
            Err(DecodeError::Unparseable)
        );
        assert_eq!(
            DecodeError::Unparseable.to_string(),
            "Request body could not be parsed"
        );
    }

    #[test]
    fn nesting_limit() {
        let t = table();
        let r = route(&t, "CreateThing");
        let nested = |depth: usize| {
            // The top-level object and "settings" are two levels.
            let inner = depth - 2;
            format!(
                "{{\"settings\": {{\"a\": {}1{}}}}}",
                "[".repeat(inner),
                "]".repeat(inner)
            )
        };
        let out = ok(decode_request(r, &[], None, JSON, nested(40).as_bytes()));
        assert!(out["settings"]["a"].is_array());
        // Legal JSON depth, but too deep for the protobuf decoder behind it
        // (each list level inside a Value costs two protobuf levels): 422.
        assert_eq!(
            invalid(decode_request(r, &[], None, JSON, nested(64).as_bytes())),
            vec![(None, "Request body is nested too deeply".to_owned())]
        );
        assert_eq!(
            decode_request(r, &[], None, JSON, nested(65).as_bytes()),
            Err(DecodeError::Unparseable)
        );
        assert_eq!(
            decode_request(r, &[], None, JSON, nested(200).as_bytes()),
            Err(DecodeError::Unparseable)
        );
    }

    #[test]
    fn form_body() {
        let t = table();
        let r = route(&t, "SubmitForm");
        let body = b"username=a%40b&password=p+w&age=30&remember=on&username=second&extra=1";
        let out = ok(decode_request(
            r,
            &[],
            None,
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            body,
        ));
        assert_eq!(
            out,
            json!({"username": "a@b", "password": "p w", "age": 30, "remember": true})
        );
        let errors = invalid(decode_request(
            r,
            &[],
            None,
            FORM,
            b"age=x&remember=maybe&username=%00",
        ));
        assert_eq!(
            errors,
            vec![
                e(Some("age"), "Input should be a valid integer"),
                e(Some("remember"), "Input should be a valid boolean"),
                e(Some("username"), NUL_MESSAGE),
            ]
        );
        let errors = invalid(decode_request(r, &[], None, JSON, b"{\"username\": \"a\"}"));
        assert_eq!(errors, vec![e(None, "Request body must be form data")]);
        let out = ok(decode_request(r, &[], None, None, b""));
        assert_eq!(out["username"], Json::Null);
    }

    #[test]
    fn multipart_form_body() {
        let t = table();
        let r = route(&t, "SubmitForm");
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nann\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nfile\r\n\
--XyZ\r\ncontent-disposition: form-data; name=age\r\n\r\n41\r\n--XyZ--\r\n";
        let ct = Some("multipart/form-data; boundary=\"XyZ\"");
        let out = ok(decode_request(r, &[], None, ct, body));
        assert_eq!(
            out,
            json!({"username": "ann", "password": null, "age": 41, "remember": null})
        );
        let errors = invalid(decode_request(r, &[], None, ct, b"garbage"));
        assert_eq!(errors, vec![e(None, "Malformed form data")]);
    }

    #[test]
    fn multipart_boundaries_are_bounded() {
        let t = table();
        let r = route(&t, "SubmitForm");
        let long = "-".repeat(71);
        let body =
            format!("--{long}\r\ncontent-disposition: form-data; name=age\r\n\r\n1\r\n--{long}--");
        let ct = format!("multipart/form-data; boundary={long}");
        assert_eq!(
            invalid(decode_request(r, &[], None, Some(&ct), body.as_bytes())),
            vec![e(None, "Multipart boundary must be 1 to 70 characters")]
        );
        let ok_boundary = "-".repeat(70);
        let body = body.replace(&long, &ok_boundary);
        let ct = format!("multipart/form-data; boundary={ok_boundary}");
        assert_eq!(
            ok(decode_request(r, &[], None, Some(&ct), body.as_bytes()))["age"],
            json!(1)
        );
    }

    #[test]
    fn path_variables_on_other_types() {
        let t = table();
        let r = route(&t, "GetPart");
        let out = ok(decode_request(
            r,
            &params(&[("thing_id", "x"), ("part_id", "y")]),
            Some("part_id=z"),
            None,
            b"",
        ));
        assert_eq!(out, json!({"thing_id": "x", "part_id": "y"}));
        let mut modified = r.clone();
        modified.method = route(&t, "GetThing").method.clone();
        let errors = invalid(decode_request(
            &modified,
            &params(&[("limit", "x")]),
            None,
            None,
            b"",
        ));
        assert_eq!(
            errors,
            vec![e(Some("limit"), "Input should be a valid integer")]
        );
        let out = ok(decode_request(
            &modified,
            &params(&[("limit", "+4")]),
            Some("limit=3"),
            None,
            b"",
        ));
        assert_eq!(out["limit"], json!(4));
    }
}
