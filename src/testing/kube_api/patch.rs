//! The three patch formats clients send, applied to a JSON object: JSON merge patch
//! (RFC 7386, also standing in for strategic merge patch on built-in kinds), JSON
//! patch (RFC 6902: `add`, `remove`, `replace`, `test`, `move`, `copy`) and the merge
//! a server-side apply does with the applied configuration (maps merged, lists
//! replaced: what the API server does for atomic lists).

use serde_json::Value;

/// Why a patch could not be applied (answered with 422, or 409 for a failed `test`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatchError {
    #[error("the patch is not a JSON array of operations")]
    NotOperations,
    #[error("unknown JSON patch operation {0:?}")]
    UnknownOperation(String),
    #[error("JSON patch path {0:?} does not exist")]
    MissingPath(String),
    #[error("JSON patch test at {0:?} failed")]
    TestFailed(String),
    #[error("JSON patch operation without a {0:?} member")]
    MissingMember(&'static str),
}

/// RFC 7386: objects merge recursively, `null` removes a member, anything else
/// replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Value::Object(target_members) = target else {
        return;
    };
    for (key, value) in members {
        if value.is_null() {
            target_members.remove(key);
        } else {
            merge_patch(
                target_members.entry(key.clone()).or_insert(Value::Null),
                value,
            );
        }
    }
}

/// The applied configuration merged into the live object: maps merge, lists and
/// scalars replace, and nothing the applier did not mention changes.
pub fn apply_merge(target: &mut Value, applied: &Value) {
    match (target, applied) {
        (Value::Object(target_members), Value::Object(members)) => {
            for (key, value) in members {
                match target_members.get_mut(key) {
                    Some(existing) => apply_merge(existing, value),
                    None => {
                        target_members.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, applied) => *target = applied.clone(),
    }
}

/// RFC 6902, all operations or none.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let operations = patch.as_array().ok_or(PatchError::NotOperations)?;
    let mut result = target.clone();
    for operation in operations {
        apply_operation(&mut result, operation)?;
    }
    *target = result;
    Ok(())
}

fn apply_operation(target: &mut Value, operation: &Value) -> Result<(), PatchError> {
    let member = |name: &'static str| operation.get(name).ok_or(PatchError::MissingMember(name));
    let path = member("path")?.as_str().unwrap_or_default();
    match member("op")?.as_str().unwrap_or_default() {
        "add" => add(target, path, member("value")?.clone()),
        "remove" => remove(target, path).map(drop),
        "replace" => {
            let slot = target
                .pointer_mut(path)
                .ok_or_else(|| PatchError::MissingPath(path.to_owned()))?;
            *slot = member("value")?.clone();
            Ok(())
        }
        "test" => match target.pointer(path) {
            Some(value) if value == member("value")? => Ok(()),
            _ => Err(PatchError::TestFailed(path.to_owned())),
        },
        "move" => {
            let from = member("from")?.as_str().unwrap_or_default();
            let value = remove(target, from)?;
            add(target, path, value)
        }
        "copy" => {
            let from = member("from")?.as_str().unwrap_or_default();
            let value = target
                .pointer(from)
                .cloned()
                .ok_or_else(|| PatchError::MissingPath(from.to_owned()))?;
            add(target, path, value)
        }
        other => Err(PatchError::UnknownOperation(other.to_owned())),
    }
}

/// The parent container of `path` and the last, unescaped token.
fn split(path: &str) -> Result<(&str, String), PatchError> {
    let (parent, last) = path
        .rsplit_once('/')
        .ok_or_else(|| PatchError::MissingPath(path.to_owned()))?;
    Ok((parent, last.replace("~1", "/").replace("~0", "~")))
}

fn add(target: &mut Value, path: &str, value: Value) -> Result<(), PatchError> {
    if path.is_empty() {
        *target = value;
        return Ok(());
    }
    let missing = || PatchError::MissingPath(path.to_owned());
    let (parent, token) = split(path)?;
    match target.pointer_mut(parent).ok_or_else(missing)? {
        Value::Object(members) => {
            members.insert(token, value);
            Ok(())
        }
        Value::Array(items) if token == "-" => {
            items.push(value);
            Ok(())
        }
        Value::Array(items) => {
            let index: usize = token.parse().map_err(|_| missing())?;
            if index > items.len() {
                return Err(missing());
            }
            items.insert(index, value);
            Ok(())
        }
        _ => Err(missing()),
    }
}

fn remove(target: &mut Value, path: &str) -> Result<Value, PatchError> {
    let missing = || PatchError::MissingPath(path.to_owned());
    let (parent, token) = split(path)?;
    match target.pointer_mut(parent).ok_or_else(missing)? {
        Value::Object(members) => members.remove(&token).ok_or_else(missing),
        Value::Array(items) => {
            let index: usize = token.parse().map_err(|_| missing())?;
            (index < items.len())
                .then(|| items.remove(index))
                .ok_or_else(missing)
        }
        _ => Err(missing()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_merges_objects_and_removes_nulls() {
        let mut object = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": [1]});
        merge_patch(
            &mut object,
            &json!({"metadata": {"labels": {"x": null, "y": "2"}}, "spec": [2]}),
        );
        assert_eq!(
            object,
            json!({"metadata": {"name": "a", "labels": {"y": "2"}}, "spec": [2]})
        );
    }

    #[test]
    fn json_patch_removes_a_finalizer_after_testing_the_list() {
        let mut object = json!({"metadata": {"finalizers": ["a", "canopy.dev/cleanup"]}});
        json_patch(
            &mut object,
            &json!([
                {"op": "test", "path": "/metadata/finalizers", "value": ["a", "canopy.dev/cleanup"]},
                {"op": "remove", "path": "/metadata/finalizers/1"},
                {"op": "add", "path": "/metadata/finalizers/-", "value": "b"}
            ]),
        )
        .unwrap();
        assert_eq!(object, json!({"metadata": {"finalizers": ["a", "b"]}}));
    }

    #[test]
    fn a_failed_test_leaves_the_object_unchanged() {
        let mut object = json!({"metadata": {"finalizers": ["a"]}});
        let result = json_patch(
            &mut object,
            &json!([
                {"op": "remove", "path": "/metadata/finalizers/0"},
                {"op": "test", "path": "/metadata/finalizers", "value": ["a"]}
            ]),
        );
        assert_eq!(
            result,
            Err(PatchError::TestFailed("/metadata/finalizers".into()))
        );
        assert_eq!(object, json!({"metadata": {"finalizers": ["a"]}}));
    }

    #[test]
    fn apply_replaces_lists_and_keeps_unmentioned_fields() {
        let mut object =
            json!({"status": {"accountNumber": "1", "conditions": [{"type": "A"}, {"type": "B"}]}});
        apply_merge(
            &mut object,
            &json!({"status": {"conditions": [{"type": "Ready"}]}}),
        );
        assert_eq!(
            object,
            json!({"status": {"accountNumber": "1", "conditions": [{"type": "Ready"}]}})
        );
    }
}
