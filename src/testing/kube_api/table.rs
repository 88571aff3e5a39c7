//! The `meta.k8s.io/v1` Table that `kubectl get` asks for (`Accept: …;as=Table`):
//! the name, the kind's printer columns (evaluated with the small subset of JSONPath
//! the CRDs use: `.a.b` and `.a[?(@.k=="v")].b`) and the age.

use serde_json::{Value, json};

use super::resources::Resource;

/// Whether an `Accept` header asks for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept.contains("as=Table")
}

/// The Table of `objects` of `resource`.
pub fn table(resource: &Resource, objects: &[&Value], revision: u64, whole: bool) -> Value {
    let mut columns = vec![json!({
        "name": "Name", "type": "string", "format": "name",
        "description": "Name of the object", "priority": 0,
    })];
    let mut printer = resource.printer_columns.clone();
    if printer.is_empty() {
        printer.push(
            json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}),
        );
    }
    for column in &printer {
        columns.push(json!({
            "name": column["name"], "type": column_type(column), "format": "",
            "description": column["description"].as_str().unwrap_or_default(),
            "priority": column["priority"].as_i64().unwrap_or(0),
        }));
    }
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut cells = vec![object["metadata"]["name"].clone()];
            cells.extend(printer.iter().map(|column| cell(column, object)));
            let embedded = if whole {
                (*object).clone()
            } else {
                json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": object["metadata"],
                })
            };
            json!({"cells": cells, "object": embedded})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": revision.to_string()},
        "columnDefinitions": columns,
        "rows": rows,
    })
}

fn column_type(column: &Value) -> &str {
    match column["type"].as_str() {
        // The server renders dates as ages, so kubectl gets a string.
        Some("date") | None => "string",
        Some(other) => other,
    }
}

fn cell(column: &Value, object: &Value) -> Value {
    let path = column["jsonPath"].as_str().unwrap_or_default();
    match evaluate(object, path) {
        None => Value::Null,
        Some(value) if column["type"] == "date" => value.as_str().map_or(Value::Null, age),
        Some(Value::Array(items)) => json!(serde_json::to_string(&items).unwrap_or_default()),
        Some(value) => value,
    }
}

/// Evaluates `.a.b[?(@.k=="v")].c`; `None` when any step finds nothing.
pub fn evaluate(object: &Value, path: &str) -> Option<Value> {
    let mut current = object.clone();
    for step in steps(path) {
        let (name, filter) = match step.split_once("[?(@.") {
            Some((name, filter)) => (name, Some(filter.trim_end_matches(")]"))),
            None => (step, None),
        };
        current = current.get(name)?.clone();
        if let Some(filter) = filter {
            let (field, value) = filter.split_once("==")?;
            let value = value.trim_matches(|c| c == '"' || c == '\'');
            current = current
                .as_array()?
                .iter()
                .find(|item| item[field].as_str() == Some(value))?
                .clone();
        }
    }
    Some(current)
}

/// `path` split at the dots outside `[…]`.
fn steps(path: &str) -> Vec<&str> {
    let mut steps = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (index, character) in path.char_indices() {
        match character {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '.' if depth == 0 => {
                steps.push(&path[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    steps.push(&path[start..]);
    steps.retain(|step| !step.is_empty());
    steps
}

/// A timestamp as kubectl shows an age: `42s`, `5m`, `3h`, `2d`.
fn age(timestamp: &str) -> Value {
    let Ok(then) = timestamp.parse::<k8s_openapi::jiff::Timestamp>() else {
        return Value::Null;
    };
    let seconds = (k8s_openapi::jiff::Timestamp::now().as_second() - then.as_second()).max(0);
    let text = match seconds {
        0..=119 => format!("{seconds}s"),
        120..=7199 => format!("{}m", seconds / 60),
        7200..=172_799 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86_400),
    };
    json!(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_of_the_printer_columns_evaluate() {
        let object = json!({
            "spec": {"type": "customer"},
            "status": {"conditions": [
                {"type": "Reconciling", "status": "False"},
                {"type": "Ready", "status": "True"}
            ]}
        });
        assert_eq!(evaluate(&object, ".spec.type"), Some(json!("customer")));
        assert_eq!(
            evaluate(&object, ".status.conditions[?(@.type==\"Ready\")].status"),
            Some(json!("True"))
        );
        assert_eq!(evaluate(&object, ".spec.parent"), None);
    }
}
