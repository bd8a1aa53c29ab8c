//! Schema defaults applied to a call's arguments before its handler runs.
//!
//! JSON Schema's `default` is an annotation: validators do not fill it in (2020-12 Validation
//! §9.2). A tool's author who writes `limit: { type: integer, default: 10 }` still expects the
//! handler, or the template, to see `limit = 10` when the caller leaves it out, so the runtime
//! fills in, after validation: each property of an object that has a `default` and is absent
//! from the arguments, at every depth the arguments reach (objects present, array items), and
//! through local `$ref`s. Nothing under `anyOf`/`oneOf`/`allOf`/`if` is applied: which branch
//! holds is not known.

use serde_json::Value;

/// `$ref`s followed at most this many times in one chain, and schemas nested at most this deep,
/// so a recursive definition cannot loop.
const MAX_DEPTH: usize = 32;

/// Whether `schema` states a `default` anywhere, so that [`apply`] can change arguments; the
/// catalog asks once per tool, and calls of tools without defaults skip the walk.
pub(crate) fn any(schema: &Value) -> bool {
    match schema {
        Value::Object(m) => m.contains_key("default") || m.values().any(any),
        Value::Array(a) => a.iter().any(any),
        _ => false,
    }
}

/// Fills the defaults of `schema` (a tool's input schema, which is also the root `$ref`s resolve
/// against) into `args`, in place.
pub(crate) fn apply(schema: &Value, args: &mut Value) {
    fill(schema, schema, args, 0);
}

fn fill(root: &Value, schema: &Value, value: &mut Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let Some(schema) = resolve(root, schema) else {
        return;
    };
    match value {
        Value::Object(object) => {
            let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
                return;
            };
            for (name, property) in properties {
                match object.get_mut(name) {
                    Some(present) => fill(root, property, present, depth + 1),
                    None => {
                        if let Some(default) =
                            resolve(root, property).and_then(|p| p.get("default"))
                        {
                            object.insert(name.clone(), default.clone());
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items").filter(|i| i.is_object()) {
                for element in items {
                    fill(root, item, element, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// Follows local `$ref`s (`#/$defs/x`) to the schema they name; `None` when one does not resolve.
fn resolve<'a>(root: &'a Value, mut schema: &'a Value) -> Option<&'a Value> {
    for _ in 0..MAX_DEPTH {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => schema = root.pointer(r.strip_prefix('#')?)?,
            None => return Some(schema),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn applied(schema: Value, mut args: Value) -> Value {
        apply(&schema, &mut args);
        args
    }

    #[test]
    fn absent_properties_get_their_default_and_given_ones_stay() {
        let schema = json!({"type": "object", "properties": {
            "limit": {"type": "integer", "default": 10},
            "sort": {"type": "string", "default": "name"},
            "query": {"type": "string"}
        }});
        assert_eq!(
            applied(schema, json!({"query": "x", "sort": "price"})),
            json!({"query": "x", "sort": "price", "limit": 10})
        );
    }

    #[test]
    fn nested_objects_array_items_and_refs_are_filled() {
        let schema = json!({
            "type": "object",
            "properties": {
                "lines": {"type": "array", "items": {"$ref": "#/$defs/line"}},
                "delivery": {"type": "object", "properties": {"speed": {"default": "standard"}}},
                "absent": {"type": "object", "properties": {"x": {"default": 1}}}
            },
            "$defs": {"line": {"type": "object", "properties": {"quantity": {"default": 1}}}}
        });
        assert_eq!(
            applied(
                schema,
                json!({"lines": [{"sku": "a"}, {"sku": "b", "quantity": 3}], "delivery": {}})
            ),
            json!({"lines": [{"sku": "a", "quantity": 1}, {"sku": "b", "quantity": 3}], "delivery": {"speed": "standard"}})
        );
    }

    #[test]
    fn schemas_without_defaults_are_known_as_such() {
        assert!(!any(
            &json!({"type": "object", "properties": {"a": {"type": "string"}}})
        ));
        assert!(any(
            &json!({"properties": {"a": {"items": [{"default": 1}]}}})
        ));
    }

    #[test]
    fn recursive_and_broken_refs_end() {
        let schema = json!({"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a"}}});
        assert_eq!(applied(schema, json!({})), json!({}));
        let schema =
            json!({"type": "object", "properties": {"n": {"$ref": "#/nope", "default": 1}}});
        assert_eq!(applied(schema, json!({})), json!({}));
        // A tree deeper than the bound stops filling instead of recursing without end.
        let mut schema = json!({"type": "object", "properties": {"leaf": {"default": 1}}});
        let mut value = json!({});
        for _ in 0..100 {
            schema = json!({"type": "object", "properties": {"n": schema}});
            value = json!({"n": value});
        }
        apply(&schema, &mut value);
    }
}
