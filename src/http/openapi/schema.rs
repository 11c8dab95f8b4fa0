//! Protobuf messages as JSON Schema (OpenAPI 3.1), exactly as the
//! transcoder reads and writes them: in answers every field is present
//! (`required`), unset ones are `null`, 64-bit integers are numbers,
//! timestamps RFC 3339 strings, enums their lower-case names; in requests
//! every member is optional (missing ones are reported by validation).

use std::collections::{BTreeMap, HashMap, HashSet};

use prost_reflect::{DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value as Json, json};

use crate::http::transcode::enum_value_name;

/// Which way a message travels; they differ in `required` and nullability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    Request,
    Response,
}

/// The leading comments of the proto, by file and descriptor path.
#[derive(Debug, Default)]
pub(super) struct Comments(HashMap<(String, Vec<i32>), String>);

impl Comments {
    /// Indexes the source info of every file of `pool`.
    pub(super) fn of(pool: &DescriptorPool) -> Self {
        let mut index = HashMap::new();
        for file in pool.files() {
            let Some(info) = &file.file_descriptor_proto().source_code_info else {
                continue;
            };
            for location in &info.location {
                if let Some(comment) = location.leading_comments.as_deref() {
                    let comment = comment.trim();
                    if !comment.is_empty() {
                        index.insert(
                            (file.name().to_owned(), location.path.clone()),
                            comment.to_owned(),
                        );
                    }
                }
            }
        }
        Self(index)
    }

    /// The comment of the descriptor at `path` in `file`.
    pub(super) fn get(&self, file: &str, path: &[i32]) -> Option<&str> {
        self.0
            .get(&(file.to_owned(), path.to_vec()))
            .map(String::as_str)
    }
}

/// The component schemas met so far, by name.
#[derive(Debug)]
pub(super) struct Schemas<'c> {
    comments: &'c Comments,
    components: BTreeMap<String, Json>,
    /// Messages that appear in answers; a request use of one gets its own
    /// `…Input` schema.
    in_responses: HashSet<String>,
}

impl<'c> Schemas<'c> {
    /// No schema yet.
    pub(super) fn new(comments: &'c Comments) -> Self {
        Self {
            comments,
            components: BTreeMap::new(),
            in_responses: HashSet::new(),
        }
    }

    /// Records that `desc` (and everything it holds) appears in answers.
    pub(super) fn note_response(&mut self, desc: &MessageDescriptor) {
        if !self.in_responses.insert(desc.full_name().to_owned()) {
            return;
        }
        for field in desc.fields() {
            if let Kind::Message(inner) = field.kind()
                && !is_well_known(&inner)
            {
                let inner = if inner.is_map_entry() {
                    match inner.map_entry_value_field().kind() {
                        Kind::Message(value) => value,
                        _ => continue,
                    }
                } else {
                    inner
                };
                self.note_response(&inner);
            }
        }
    }

    /// The component schemas.
    pub(super) fn into_components(self) -> Map<String, Json> {
        self.components.into_iter().collect()
    }

    /// A `$ref` to the schema of `desc`, defining it on first use.
    pub(super) fn reference(&mut self, desc: &MessageDescriptor, direction: Direction) -> Json {
        if is_well_known(desc) {
            return well_known(desc, direction);
        }
        let mut name = desc.name().to_owned();
        if direction == Direction::Request && self.in_responses.contains(desc.full_name()) {
            name.push_str("Input");
        }
        let reference = json!({"$ref": format!("#/components/schemas/{name}")});
        if self.components.contains_key(&name) {
            return reference;
        }
        // Placeholder first: recursive messages refer to themselves.
        self.components.insert(name.clone(), Json::Null);
        let schema = self.object(desc, direction, &[]);
        self.components.insert(name, schema);
        reference
    }

    /// An object schema of `desc` without the members in `skip`.
    pub(super) fn object(
        &mut self,
        desc: &MessageDescriptor,
        direction: Direction,
        skip: &[&str],
    ) -> Json {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in desc.fields().filter(|f| !skip.contains(&f.name())) {
            let mut schema = self.field(&field, direction);
            let comment = self.comments.get(field.parent_file().name(), field.path());
            if let (Some(comment), Some(object)) = (comment, schema.as_object_mut()) {
                object.insert("description".to_owned(), Json::String(comment.to_owned()));
            }
            required.push(Json::String(field.name().to_owned()));
            properties.insert(field.name().to_owned(), schema);
        }
        let mut schema = json!({"type": "object", "properties": properties});
        if direction == Direction::Response {
            schema["required"] = Json::Array(required);
        }
        if let Some(comment) = self.comments.get(desc.parent_file().name(), desc.path()) {
            schema["description"] = Json::String(comment.to_owned());
        }
        schema
    }

    /// The schema of one field's JSON value.
    pub(super) fn field(&mut self, field: &FieldDescriptor, direction: Direction) -> Json {
        let kind = field.kind();
        if field.is_map() {
            let Kind::Message(entry) = &kind else {
                return json!({});
            };
            let value = self.kind(&entry.map_entry_value_field().kind(), direction);
            return nullable_if(
                direction == Direction::Request,
                json!({"type": "object", "additionalProperties": value}),
            );
        }
        if field.is_list() {
            let items = self.kind(&kind, direction);
            return nullable_if(
                direction == Direction::Request,
                json!({"type": "array", "items": items}),
            );
        }
        let schema = self.kind(&kind, direction);
        let null = match &kind {
            // `google.protobuf.Value` describes null itself.
            Kind::Message(m) if m.full_name() == "google.protobuf.Value" => false,
            Kind::Enum(e) => field.supports_presence() || has_unspecified_zero(e),
            _ => field.supports_presence(),
        };
        nullable_if(null, schema)
    }

    fn kind(&mut self, kind: &Kind, direction: Direction) -> Json {
        match kind {
            Kind::Message(desc) => self.reference(desc, direction),
            Kind::Enum(desc) => enum_schema(desc),
            scalar => scalar_schema(scalar),
        }
    }
}

/// The schema of a scalar kind (also used for query and path parameters).
pub(super) fn scalar_schema(kind: &Kind) -> Json {
    match kind {
        Kind::Bool => json!({"type": "boolean"}),
        Kind::String => json!({"type": "string"}),
        Kind::Bytes => json!({"type": "string", "contentEncoding": "base64"}),
        Kind::Double | Kind::Float => json!({"type": "number"}),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({"type": "integer", "format": "int32"})
        }
        Kind::Uint32 | Kind::Fixed32 => {
            json!({"type": "integer", "format": "int32", "minimum": 0, "maximum": u32::MAX})
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            json!({"type": "integer", "format": "int64"})
        }
        Kind::Uint64 | Kind::Fixed64 => json!({"type": "integer", "format": "int64", "minimum": 0}),
        Kind::Enum(desc) => enum_schema(desc),
        Kind::Message(desc) if is_well_known(desc) => well_known(desc, Direction::Request),
        Kind::Message(_) => json!({"type": "object"}),
    }
}

fn enum_schema(desc: &EnumDescriptor) -> Json {
    let names: Vec<Json> = desc
        .values()
        .filter_map(|v| enum_value_name(desc, v.number()))
        .map(Json::String)
        .collect();
    json!({"type": "string", "enum": names})
}

fn has_unspecified_zero(desc: &EnumDescriptor) -> bool {
    enum_value_name(desc, 0).is_none()
}

/// Adds `null` to a schema's type (or wraps a `$ref`).
fn nullable_if(null: bool, schema: Json) -> Json {
    if !null {
        return schema;
    }
    match schema.get("type").cloned() {
        Some(Json::String(t)) => {
            let mut schema = schema;
            schema["type"] = json!([t, "null"]);
            if let Some(Json::Array(values)) = schema.get_mut("enum") {
                values.push(Json::Null);
            }
            schema
        }
        _ => json!({"oneOf": [schema, {"type": "null"}]}),
    }
}

fn is_well_known(desc: &MessageDescriptor) -> bool {
    desc.full_name().starts_with("google.protobuf.")
}

/// JSON form of the well-known types the transcoder supports.
fn well_known(desc: &MessageDescriptor, direction: Direction) -> Json {
    let name = desc.full_name();
    match name {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Struct" => json!({"type": "object"}),
        "google.protobuf.ListValue" => json!({"type": "array"}),
        // Any JSON value, null included.
        "google.protobuf.Value" => json!({}),
        _ => match desc.get_field_by_name("value") {
            // Wrappers: their value, or null.
            Some(value) => nullable_if(
                direction == Direction::Response,
                scalar_schema(&value.kind()),
            ),
            None => json!({}),
        },
    }
}
