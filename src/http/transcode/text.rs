//! Textual (name, value) pairs (query string, path variables, form fields)
//! into a message: dotted names reach nested messages, repeated fields
//! collect every value, singular fields keep the first.

use std::collections::HashSet;

use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage as _, Value as PValue,
};

use super::scalars::{is_message, is_special, parse_text};
use crate::error::FieldViolation;

/// Sets fields from textual (name, value) pairs: dotted names reach nested
/// messages, repeated fields collect every value, singular fields keep the first
/// value (names in `seen`), unknown names and names in `skip` are ignored.
pub(super) fn apply_text(
    message: &mut DynamicMessage,
    pairs: &[(String, String)],
    skip: &[&str],
    errors: &mut Vec<FieldViolation>,
) {
    let mut seen = HashSet::new();
    for (name, text) in pairs {
        let top = name.split('.').next().unwrap_or_default();
        if skip.contains(&name.as_str()) || skip.contains(&top) {
            continue;
        }
        let Some(chain) = resolve(&message.descriptor(), name) else {
            continue;
        };
        let Some((leaf, parents)) = chain.split_last() else {
            continue;
        };
        if leaf.is_map() || (!leaf.is_list() && seen.contains(name)) {
            continue;
        }
        let value = match parse_text(leaf, text) {
            Ok(Some(value)) => value,
            Ok(None) => continue,
            Err(message) => {
                errors.push(FieldViolation {
                    field: Some(name.clone()),
                    message,
                });
                continue;
            }
        };
        if !leaf.is_list() {
            seen.insert(name.clone());
        }
        set_nested(message, parents, leaf, value);
    }
}

/// Sets (or, for a repeated field, appends) `value` at `parents`.`leaf`.
fn set_nested(
    message: &mut DynamicMessage,
    parents: &[FieldDescriptor],
    leaf: &FieldDescriptor,
    value: PValue,
) {
    match parents.split_first() {
        Some((first, rest)) => {
            if let Some(inner) = message.get_field_mut(first).as_message_mut() {
                set_nested(inner, rest, leaf, value);
            }
        }
        None if leaf.is_list() => {
            if let Some(list) = message.get_field_mut(leaf).as_list_mut() {
                list.push(value);
            }
        }
        None => message.set_field(leaf, value),
    }
}

/// Field chain of a dotted name; intermediate fields must be singular plain messages.
fn resolve(desc: &MessageDescriptor, name: &str) -> Option<Vec<FieldDescriptor>> {
    let mut chain: Vec<FieldDescriptor> = Vec::new();
    let mut current = desc.clone();
    for part in name.split('.') {
        if let Some(last) = chain.last() {
            match last.kind() {
                Kind::Message(m) if is_message(last) && !is_special(&m) => current = m,
                _ => return None,
            }
        }
        chain.push(current.get_field_by_name(part)?);
    }
    Some(chain)
}
