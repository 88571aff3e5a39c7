//! The HTTP side (axum): `/healthz`, `/readyz`, `/metrics`, `/status` and
//! `POST /approve/ID`. Handlers only read the shared state; an approval runs on a
//! blocking thread with its own store connection (the writer lock orders it with the
//! daemon's passes).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::approve::{self, ApproveError};
use super::metrics::Metrics;
use super::status::{Role, Status};

/// What the handlers share with the run loop.
pub struct Shared {
    pub status: Mutex<Status>,
    pub metrics: Metrics,
    pub database_url: String,
}

impl Shared {
    /// A copy of the status (the lock is held only to clone it).
    pub fn status(&self) -> Status {
        match self.status.lock() {
            Ok(status) => status.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Changes the status in place.
    pub fn update(&self, change: impl FnOnce(&mut Status)) {
        match self.status.lock() {
            Ok(mut status) => change(&mut status),
            Err(poisoned) => change(&mut poisoned.into_inner()),
        }
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/approve/{id}", post(approve_plan))
        .with_state(shared)
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let status = shared.status();
    match (status.role, status.ready) {
        (Role::Standby, true) => (StatusCode::OK, "standby\n").into_response(),
        (Role::Active, true) => (StatusCode::OK, "ready\n").into_response(),
        _ => {
            let reason = match &status.database_error {
                Some(error) => format!("not ready: database: {}\n", error.message),
                None => "not ready: first reconcile not finished\n".to_string(),
            };
            (StatusCode::SERVICE_UNAVAILABLE, reason).into_response()
        }
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.encode(),
    )
        .into_response()
}

async fn status(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.status()).into_response()
}

async fn approve_plan(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let url = shared.database_url.clone();
    let approval = tokio::task::spawn_blocking(move || {
        let mut store = crate::store::open(&url).map_err(ApproveError::Store)?;
        approve::approve(store.as_mut(), &id, "http")
    })
    .await;
    let (code, body) = match approval {
        Ok(Ok(approved)) => (
            StatusCode::OK,
            serde_json::json!({"applied": true, "summary": approved.summary, "changes": approved.changes}),
        ),
        Ok(Err(error)) => {
            let code = match error {
                ApproveError::NotHeld(_) => StatusCode::NOT_FOUND,
                ApproveError::Stale(_) => StatusCode::CONFLICT,
                ApproveError::Store(_) | ApproveError::Reconcile(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            };
            (
                code,
                serde_json::json!({"applied": false, "error": format!("{error:#}")}),
            )
        }
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::json!({"applied": false, "error": "the approval task failed"}),
        ),
    };
    (code, axum::Json(body)).into_response()
}
