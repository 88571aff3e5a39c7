//! The fake API server's memory: every object by kind, namespace and name, one
//! resourceVersion counter for all of them, and the log of every change (what WATCH
//! replays from a resourceVersion on).
//!
//! The write rules are the API server's, as far as canopy and kubectl can tell:
//! create assigns uid, creationTimestamp, generation 1 and a resourceVersion; a write
//! to an object keeps its status when the kind has a status subresource, and a write
//! to `/status` keeps everything else; generation grows when anything outside
//! metadata and status changes; a stale `metadata.resourceVersion` is a 409; a write
//! that changes nothing bumps nothing; DELETE of an object with finalizers only sets
//! `deletionTimestamp`, and the object goes when its last finalizer is removed.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::patch::{self, PatchError};
use super::resources::{Resource, Target};

/// `(resource index, namespace or "", name)`.
type Key = (usize, String, String);

/// What happened to an object, as a WATCH event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Added,
    Modified,
    Deleted,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
        }
    }
}

/// One entry of the change log.
#[derive(Debug, Clone)]
pub struct Change {
    pub revision: u64,
    pub resource: usize,
    pub namespace: String,
    pub kind: EventKind,
    pub object: Arc<Value>,
}

/// An error answered as a `Status` object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
        }
    }

    fn not_found(resource: &Resource, name: &str) -> Self {
        ApiError::new(
            404,
            "NotFound",
            format!("{} {name:?} not found", resource.plural),
        )
    }

    /// The `Status` body of this error.
    pub fn status(&self) -> Value {
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        })
    }
}

impl From<PatchError> for ApiError {
    fn from(error: PatchError) -> Self {
        match error {
            PatchError::TestFailed(_) => ApiError::new(409, "Conflict", error.to_string()),
            _ => ApiError::new(422, "Invalid", error.to_string()),
        }
    }
}

/// How a PATCH body is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/merge-patch+json`, and `application/strategic-merge-patch+json`
    /// on the kinds that accept it.
    Merge,
    /// `application/json-patch+json`.
    Json,
    /// `application/apply-patch+yaml`: server-side apply.
    Apply,
}

/// Which objects a LIST or WATCH wants.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    /// `(key, value, equal)`; value `None` tests existence.
    labels: Vec<(String, Option<String>, bool)>,
    /// `(metadata.name | metadata.namespace, value)`.
    fields: Vec<(String, String)>,
}

impl Selector {
    /// Parses `labelSelector` and `fieldSelector` (equality and existence terms only).
    pub fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Self, ApiError> {
        let mut selector = Selector::default();
        for term in labels
            .unwrap_or_default()
            .split(',')
            .filter(|t| !t.is_empty())
        {
            let parsed = if let Some((key, value)) = term.split_once("!=") {
                (key, Some(value), false)
            } else if let Some((key, value)) = term.split_once('=') {
                (key, Some(value.trim_start_matches('=')), true)
            } else if let Some(key) = term.strip_prefix('!') {
                (key, None, false)
            } else {
                (term, None, true)
            };
            let (key, value, equal) = parsed;
            selector
                .labels
                .push((key.to_owned(), value.map(str::to_owned), equal));
        }
        for term in fields
            .unwrap_or_default()
            .split(',')
            .filter(|t| !t.is_empty())
        {
            let (path, value) = term.split_once('=').ok_or_else(|| bad_selector(term))?;
            let value = value.trim_start_matches('=');
            if path != "metadata.name" && path != "metadata.namespace" {
                return Err(bad_selector(term));
            }
            selector.fields.push((path.to_owned(), value.to_owned()));
        }
        Ok(selector)
    }

    pub fn matches(&self, object: &Value) -> bool {
        let metadata = &object["metadata"];
        let labels_match = self.labels.iter().all(|(key, value, equal)| {
            let actual = metadata["labels"][key].as_str();
            match value {
                None => actual.is_some() == *equal,
                Some(value) => (actual == Some(value.as_str())) == *equal,
            }
        });
        let fields_match = self.fields.iter().all(|(path, value)| {
            let field = path.trim_start_matches("metadata.");
            metadata[field].as_str().unwrap_or_default() == value
        });
        labels_match && fields_match
    }
}

fn bad_selector(term: &str) -> ApiError {
    ApiError::new(
        400,
        "BadRequest",
        format!("the fake serves no field selector {term:?}"),
    )
}

/// The objects, the revision counter and the change log.
pub struct Store {
    pub resources: Vec<Resource>,
    objects: BTreeMap<Key, Arc<Value>>,
    log: Vec<Change>,
    revision: u64,
    uids: u64,
}

pub fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn key(target: &Target, name: &str) -> Key {
    (
        target.resource,
        target.namespace.clone().unwrap_or_default(),
        name.to_owned(),
    )
}

fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    match object.get_mut("metadata") {
        Some(Value::Object(metadata)) => metadata,
        _ => unreachable!("metadata was just made an object"),
    }
}

/// Everything but metadata and status: what `generation` counts changes of.
fn spec_part(object: &Value) -> Value {
    let mut rest = object.clone();
    if let Value::Object(members) = &mut rest {
        members.remove("metadata");
        members.remove("status");
    }
    rest
}

fn without_volatile(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(Value::Object(metadata)) = copy.get_mut("metadata") {
        metadata.remove("managedFields");
        metadata.remove("resourceVersion");
    }
    copy
}

/// `fieldsV1` of an applied configuration: `f:` for every member, recursively.
fn fields_v1(applied: &Value) -> Value {
    match applied {
        Value::Object(members) => Value::Object(
            members
                .iter()
                .filter(|(key, _)| !matches!(key.as_str(), "apiVersion" | "kind"))
                .map(|(key, value)| (format!("f:{key}"), fields_v1(value)))
                .collect(),
        ),
        _ => json!({}),
    }
}

impl Store {
    pub fn new(resources: Vec<Resource>) -> Self {
        Store {
            resources,
            objects: BTreeMap::new(),
            log: Vec::new(),
            revision: 0,
            uids: 0,
        }
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn get(&self, target: &Target, name: &str) -> Result<Arc<Value>, ApiError> {
        self.objects
            .get(&key(target, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&self.resources[target.resource], name))
    }

    /// The objects of `target`'s kind (in its namespace, if it names one) that match,
    /// in key order, after `after` (a continue position).
    pub fn select(
        &self,
        target: &Target,
        selector: &Selector,
        after: Option<(String, String)>,
    ) -> impl Iterator<Item = (&Key, &Arc<Value>)> {
        let start = match after {
            Some((namespace, name)) => (target.resource, namespace, format!("{name}\0")),
            None => (
                target.resource,
                target.namespace.clone().unwrap_or_default(),
                String::new(),
            ),
        };
        let resource = target.resource;
        let namespace = target.namespace.clone();
        self.objects
            .range(start..)
            .take_while(move |((index, object_namespace, _), _)| {
                *index == resource
                    && namespace
                        .as_ref()
                        .is_none_or(|wanted| wanted == object_namespace)
            })
            .filter(move |(_, object)| selector.matches(object))
    }

    /// The changes after `revision` to objects of `target`'s kind that match.
    pub fn changes_after(
        &self,
        revision: u64,
        target: &Target,
        selector: &Selector,
    ) -> Vec<Change> {
        let start = self
            .log
            .partition_point(|change| change.revision <= revision);
        self.log[start..]
            .iter()
            .filter(|change| {
                change.resource == target.resource
                    && target
                        .namespace
                        .as_ref()
                        .is_none_or(|namespace| *namespace == change.namespace)
                    && selector.matches(&change.object)
            })
            .cloned()
            .collect()
    }

    pub fn create(&mut self, target: &Target, mut body: Value) -> Result<Value, ApiError> {
        let resource = self.resources[target.resource].clone();
        let name = self.new_name(&body)?;
        let key = key(target, &name);
        if self.objects.contains_key(&key) {
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{} {name:?} already exists", resource.plural),
            ));
        }
        self.uids += 1;
        body["apiVersion"] = json!(resource.api_version());
        body["kind"] = json!(resource.kind);
        if resource.status_subresource
            && let Value::Object(members) = &mut body
        {
            members.remove("status");
        }
        let uid = format!("00000000-0000-4000-8000-{:012}", self.uids);
        let metadata = metadata_mut(&mut body);
        metadata.insert("name".into(), json!(name));
        metadata.remove("generateName");
        if let Some(namespace) = &target.namespace {
            metadata.insert("namespace".into(), json!(namespace));
        }
        metadata.insert("uid".into(), json!(uid));
        metadata.insert("creationTimestamp".into(), json!(now()));
        metadata.insert("generation".into(), json!(1));
        metadata.remove("deletionTimestamp");
        Ok(self.commit(key, body, EventKind::Added))
    }

    fn new_name(&self, body: &Value) -> Result<String, ApiError> {
        let metadata = &body["metadata"];
        if let Some(name) = metadata["name"].as_str().filter(|name| !name.is_empty()) {
            return Ok(name.to_owned());
        }
        match metadata["generateName"].as_str() {
            Some(prefix) => Ok(format!("{prefix}{:05x}", self.uids + 1)),
            None => Err(ApiError::new(
                422,
                "Invalid",
                "metadata.name: Required value",
            )),
        }
    }

    /// PUT: replaces the object (or its status), refusing a stale resourceVersion.
    pub fn update(&mut self, target: &Target, name: &str, body: Value) -> Result<Value, ApiError> {
        let old = self.get(target, name)?;
        self.write(target, name, &old, body, None)
    }

    /// PATCH in any of the three formats; server-side apply creates a missing object.
    pub fn patch(
        &mut self,
        target: &Target,
        name: &str,
        kind: PatchKind,
        body: &Value,
        manager: Option<&str>,
    ) -> Result<Value, ApiError> {
        let old = match self.get(target, name) {
            Ok(old) => old,
            Err(_) if kind == PatchKind::Apply && target.subresource.is_none() => {
                let mut created = body.clone();
                metadata_mut(&mut created).insert("name".into(), json!(name));
                self.record_manager(&mut created, target, manager, "Apply", body);
                return self.create(target, created);
            }
            Err(missing) => return Err(missing),
        };
        let mut new = (*old).clone();
        match kind {
            PatchKind::Merge => patch::merge_patch(&mut new, body),
            PatchKind::Json => patch::json_patch(&mut new, body)?,
            PatchKind::Apply => {
                let manager = manager.ok_or_else(|| {
                    ApiError::new(
                        400,
                        "BadRequest",
                        "PATCH with apply-patch needs fieldManager",
                    )
                })?;
                patch::apply_merge(&mut new, body);
                self.record_manager(&mut new, target, Some(manager), "Apply", body);
            }
        }
        if kind != PatchKind::Apply {
            self.record_manager(&mut new, target, manager, "Update", &json!({}));
        }
        self.write(target, name, &old, new, Some(&old))
    }

    /// Upserts the managedFields entry of `(manager, operation, subresource)`.
    fn record_manager(
        &self,
        object: &mut Value,
        target: &Target,
        manager: Option<&str>,
        operation: &str,
        applied: &Value,
    ) {
        let Some(manager) = manager else { return };
        let resource = &self.resources[target.resource];
        let mut entry = json!({
            "manager": manager,
            "operation": operation,
            "apiVersion": resource.api_version(),
            "time": now(),
            "fieldsType": "FieldsV1",
            "fieldsV1": fields_v1(applied),
        });
        if let Some(subresource) = &target.subresource {
            entry["subresource"] = json!(subresource);
        }
        let metadata = metadata_mut(object);
        let entries = metadata.entry("managedFields").or_insert_with(|| json!([]));
        if !entries.is_array() {
            *entries = json!([]);
        }
        if let Value::Array(entries) = entries {
            entries.retain(|existing| {
                existing["manager"] != entry["manager"]
                    || existing["operation"] != entry["operation"]
                    || existing["subresource"] != entry["subresource"]
            });
            entries.push(entry);
        }
    }

    /// The common end of PUT and PATCH: keep what the client may not change, count
    /// the generation, and commit unless nothing changed.
    fn write(
        &mut self,
        target: &Target,
        name: &str,
        old: &Arc<Value>,
        mut new: Value,
        patched_from: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let resource = self.resources[target.resource].clone();
        let current = old["metadata"]["resourceVersion"].clone();
        let sent = &new["metadata"]["resourceVersion"];
        let stale = patched_from.is_none_or(|from| from["metadata"]["resourceVersion"] != *sent);
        if stale && sent.as_str().is_some_and(|sent| !sent.is_empty()) && *sent != current {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} {name:?}: the object has been modified",
                    resource.plural
                ),
            ));
        }
        if resource.status_subresource {
            if target.subresource.is_some() {
                let status = new.get("status").cloned();
                let managed = new["metadata"]["managedFields"].clone();
                new = (**old).clone();
                match status {
                    Some(status) => new["status"] = status,
                    None => {
                        if let Value::Object(members) = &mut new {
                            members.remove("status");
                        }
                    }
                }
                if !managed.is_null() {
                    new["metadata"]["managedFields"] = managed;
                }
            } else {
                match old.get("status") {
                    Some(status) => new["status"] = status.clone(),
                    None => {
                        if let Value::Object(members) = &mut new {
                            members.remove("status");
                        }
                    }
                }
            }
        }
        self.keep_identity(&resource, old, &mut new);
        if without_volatile(&new) == without_volatile(old) {
            return Ok((**old).clone());
        }
        let key = key(target, name);
        Ok(self.commit(key, new, EventKind::Modified))
    }

    /// Name, namespace, uid, creation and deletion time and generation are the
    /// server's.
    fn keep_identity(&self, resource: &Resource, old: &Value, new: &mut Value) {
        new["apiVersion"] = json!(resource.api_version());
        new["kind"] = json!(resource.kind);
        let old_metadata = &old["metadata"];
        let generation = old_metadata["generation"].as_i64().unwrap_or(1);
        let generation = if spec_part(new) == spec_part(old) {
            generation
        } else {
            generation + 1
        };
        let metadata = metadata_mut(new);
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
        ] {
            match old_metadata.get(field) {
                Some(value) => metadata.insert(field.into(), value.clone()),
                None => metadata.remove(field),
            };
        }
        metadata.insert("generation".into(), json!(generation));
    }

    /// DELETE: marks an object with finalizers, removes one without.
    pub fn delete(&mut self, target: &Target, name: &str) -> Result<Value, ApiError> {
        let old = self.get(target, name)?;
        let mut new = (*old).clone();
        if !old["metadata"]["deletionTimestamp"].is_null() {
            return Ok(new);
        }
        let metadata = metadata_mut(&mut new);
        metadata.insert("deletionTimestamp".into(), json!(now()));
        metadata.insert("deletionGracePeriodSeconds".into(), json!(0));
        // Without finalizers the commit removes the object at once.
        Ok(self.commit(key(target, name), new, EventKind::Modified))
    }

    /// Stores `object` under a new resourceVersion and logs the change; an object
    /// being deleted whose finalizers are gone is removed instead.
    fn commit(&mut self, key: Key, mut object: Value, kind: EventKind) -> Value {
        self.revision += 1;
        metadata_mut(&mut object)
            .insert("resourceVersion".into(), json!(self.revision.to_string()));
        let finalizers = object["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|finalizers| !finalizers.is_empty());
        let gone = !object["metadata"]["deletionTimestamp"].is_null() && !finalizers;
        let shared = Arc::new(object.clone());
        let kind = if gone {
            self.objects.remove(&key);
            EventKind::Deleted
        } else {
            self.objects.insert(key.clone(), shared.clone());
            kind
        };
        self.log.push(Change {
            revision: self.revision,
            resource: key.0,
            namespace: key.1,
            kind,
            object: shared,
        });
        object
    }
}
