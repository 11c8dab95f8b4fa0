//! Test fixtures: the descriptor pool of `proto/testing/v1/transcode.proto`.

use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use serde_json::Value as Json;

use super::decode::JsonDecoder;
use crate::error::FieldViolation;

pub fn pool() -> DescriptorPool {
    DescriptorPool::decode(&include_bytes!(concat!(env!("OUT_DIR"), "/testing_descriptor.bin"))[..])
        .unwrap()
}

pub fn desc(name: &str) -> MessageDescriptor {
    pool()
        .get_message_by_name(&format!("testing.v1.{name}"))
        .unwrap()
}

pub fn decode(name: &str, json: Json) -> (DynamicMessage, Vec<FieldViolation>) {
    let mut errors = Vec::new();
    let message = JsonDecoder {
        errors: &mut errors,
    }
    .message(&desc(name), json.as_object().unwrap(), "", &[]);
    (message, errors)
}

pub fn err(field: &str, message: &str) -> FieldViolation {
    FieldViolation {
        field: Some(field.to_owned()),
        message: message.to_owned(),
    }
}
