//! The admin listener (`server.xml` `<admin>`, loopback by default): a small JSON API over
//! HTTP/1.1 to see and steer deployments.
//!
//! | request | answer |
//! | --- | --- |
//! | `GET /contexts` | every known context: name, path, state, generation, library and its modification time, open sessions, retiring versions, last error with positions |
//! | `GET /contexts/{name}` | one context; 404 when unknown |
//! | `POST /contexts/{name}/redeploy` | a new version of a running context even when nothing changed (409 when it does not run) |
//! | `POST /contexts/{name}/undeploy` | out of service (1001 to its sessions) and held back from rescans |
//! | `POST /contexts/{name}/deploy` | releases the hold and deploys the directory as it is now |
//!
//! A refused version answers 409 (context-path clash) or 422 (anything else) with its
//! diagnostics; what ran before keeps running. A wrong method answers 405 with `Allow`; any
//! other path 404. Every answer is `application/json`.
//!
//! `route` says which call a request is (pure), `view` is the JSON (pure, shared with
//! `berth status`), `api` answers through the deployer's actions (`deploy::deployer::
//! actions`), `server` is the listener. Nothing here decides what a deployment does, and
//! nothing here may slow the WebSocket listener: the admin listener has its own tasks and a
//! bound on its connections, and a failure to bind it is logged, not fatal.

mod api;
mod route;
mod server;
pub(crate) mod view;

pub(crate) use server::serve;
