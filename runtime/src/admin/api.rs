//! Answers one API request: its route, the deployer's answer under the deployer's lock, the
//! JSON document and its status code.
//!
//! Reads wait for a deployment in progress (they take the same lock) and then answer at
//! once. Each action runs in a task of its own, so a client that hangs up half-way never
//! cancels a deployment between its launch and its publication.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Response, StatusCode};
use serde::Serialize;
use tokio::sync::Mutex;

use super::route::{Action, Route, route};
use super::view::{self, ContextList};
use crate::deploy::deployer::Deployer;
use crate::deploy::deployer::actions::{ActionError, ContextReport};

/// The deployer, shared by the container, the rescans and the admin listener.
pub(crate) type SharedDeployer = Arc<Mutex<Deployer>>;

/// What the API answers for the request `method path`.
pub(crate) async fn answer(
    method: &Method,
    path: &str,
    deployer: &SharedDeployer,
) -> Response<Full<Bytes>> {
    match route(method, path) {
        Route::List => {
            let reports = deployer.lock().await.reports();
            let contexts = reports.iter().map(view::context).collect();
            json(StatusCode::OK, &ContextList { contexts })
        }
        Route::Show(name) => match deployer.lock().await.report(&name) {
            Some(report) => json(StatusCode::OK, &view::context(&report)),
            None => failure(&ActionError::Unknown(name)),
        },
        Route::Act(name, action) => {
            let acting = tokio::spawn(act(Arc::clone(deployer), name.clone(), action)).await;
            let response = match acting {
                Ok(Ok(report)) => json(StatusCode::OK, &view::context(&report)),
                Ok(Err(error)) => failure(&error),
                Err(error) => {
                    tracing::error!(context = %name, ?action, %error, "admin action failed");
                    let message = format!("the {action:?} of {name} failed: {error}");
                    json(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &view::error(message, None),
                    )
                }
            };
            let status = response.status().as_u16();
            tracing::info!(context = %name, ?action, status, "admin action");
            response
        }
        Route::WrongMethod { allow } => {
            let message = format!("{method} is not allowed on {path}; use {allow}");
            let mut response = json(StatusCode::METHOD_NOT_ALLOWED, &view::error(message, None));
            (response.headers_mut()).insert(header::ALLOW, HeaderValue::from_static(allow));
            response
        }
        Route::NotFound => {
            let message = format!(
                "nothing at {path}; the API is GET /contexts, GET /contexts/{{name}} and POST /contexts/{{name}}/redeploy|undeploy|deploy"
            );
            json(StatusCode::NOT_FOUND, &view::error(message, None))
        }
    }
}

async fn act(
    deployer: SharedDeployer,
    name: String,
    action: Action,
) -> Result<ContextReport, ActionError> {
    let mut deployer = deployer.lock_owned().await;
    match action {
        Action::Redeploy => deployer.redeploy(&name).await,
        Action::Undeploy => deployer.undeploy(&name),
        Action::Deploy => deployer.deploy(&name).await,
    }
}

/// The answer to an action that was refused or could not be carried out.
fn failure(error: &ActionError) -> Response<Full<Bytes>> {
    let context = match error {
        ActionError::Clash(report) | ActionError::Refused(report) => Some(&**report),
        ActionError::NotRunning { report, .. } => report.as_deref(),
        ActionError::Unknown(_) | ActionError::NoDirectory(_) | ActionError::AppsDir { .. } => None,
    };
    json(status_of(error), &view::error(error.to_string(), context))
}

/// The status code of each failed action.
fn status_of(error: &ActionError) -> StatusCode {
    match error {
        ActionError::Unknown(_) | ActionError::NoDirectory(_) => StatusCode::NOT_FOUND,
        ActionError::NotRunning { .. } | ActionError::Clash(_) => StatusCode::CONFLICT,
        ActionError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ActionError::AppsDir { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `document` as pretty JSON (the API is read by people with `curl` too).
fn json(status: StatusCode, document: &impl Serialize) -> Response<Full<Bytes>> {
    let (status, body) = match serde_json::to_vec_pretty(document) {
        Ok(mut body) => {
            body.push(b'\n');
            (status, body)
        }
        Err(error) => {
            tracing::error!(%error, "cannot write an admin answer");
            let body = b"{\"error\": \"cannot write the answer\"}\n".to_vec();
            (StatusCode::INTERNAL_SERVER_ERROR, body)
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    (response.headers_mut()).insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::deploy::deployer::actions::ContextState;
    use crate::plugin::Prober;

    fn report() -> Box<ContextReport> {
        Box::new(ContextReport {
            name: "x".into(),
            path: None,
            state: ContextState::Failed,
            generation: None,
            library: None,
            sessions: 0,
            retiring: Vec::new(),
            held: false,
            last_error: None,
        })
    }

    #[test]
    fn each_failure_has_its_status() {
        let io = std::io::Error::other("gone");
        let cases = [
            (ActionError::Unknown("x".into()), 404),
            (ActionError::NoDirectory(PathBuf::from("apps/x")), 404),
            (
                ActionError::NotRunning {
                    name: "x".into(),
                    report: None,
                },
                409,
            ),
            (ActionError::Clash(report()), 409),
            (ActionError::Refused(report()), 422),
            (
                ActionError::AppsDir {
                    dir: PathBuf::from("apps"),
                    source: io,
                },
                500,
            ),
        ];
        for (error, status) in cases {
            assert_eq!(status_of(&error).as_u16(), status, "{error}");
        }
    }

    async fn call(method: Method, path: &str) -> (StatusCode, Option<String>, serde_json::Value) {
        let apps = std::env::temp_dir().join(format!("berth-admin-api-{}", std::process::id()));
        let deployer = Arc::new(Mutex::new(Deployer::new(&apps, Prober::this_binary())));
        let response = answer(&method, path, &deployer).await;
        let status = response.status();
        let headers = response.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        let allow = (headers.get(header::ALLOW)).and_then(|v| v.to_str().ok().map(str::to_owned));
        let body = http_body_util::BodyExt::collect(response.into_body()).await;
        let body = body.expect("a full body").to_bytes();
        let document = serde_json::from_slice(&body).expect("a JSON body");
        (status, allow, document)
    }

    #[tokio::test]
    async fn every_answer_is_json_with_its_status() {
        let (status, _, list) = call(Method::GET, "/contexts").await;
        assert_eq!(
            (status, list),
            (StatusCode::OK, serde_json::json!({"contexts": []}))
        );
        let (status, _, unknown) = call(Method::GET, "/contexts/echo").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(unknown["error"], "there is no context \"echo\"");
        let (status, allow, _) = call(Method::DELETE, "/contexts").await;
        assert_eq!(
            (status, allow.as_deref()),
            (StatusCode::METHOD_NOT_ALLOWED, Some("GET, HEAD"))
        );
        let (status, allow, _) = call(Method::GET, "/contexts/echo/deploy").await;
        assert_eq!(
            (status, allow.as_deref()),
            (StatusCode::METHOD_NOT_ALLOWED, Some("POST"))
        );
        let (status, _, nothing) = call(Method::GET, "/").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            nothing["error"]
                .as_str()
                .is_some_and(|e| e.contains("GET /contexts"))
        );
        let (status, _, _) = call(Method::POST, "/contexts/..%2Fetc/deploy").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
