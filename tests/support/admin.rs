//! The admin listener in a test: a server whose `<admin>` listens on an ephemeral loopback
//! port, and requests to it over plain HTTP/1.1.

use std::net::SocketAddr;
use std::time::Duration;

use crate::apps::Apps;
use crate::client::{raw_exchange, status_of};
use crate::raw::header;
use crate::server::Berth;

/// How long a server may take to bind its admin listener after its WebSocket listener.
const ADMIN_START: Duration = Duration::from_secs(10);

impl Apps {
    /// Writes `conf/server.xml` with the admin listener on an ephemeral loopback port (plus
    /// `inner`, as [`Apps::server_conf`] takes it) and returns its path as text.
    pub fn admin_conf(&self, inner: &str) -> String {
        let conf = self.server_conf(&format!(
            "<admin><listen>127.0.0.1:0</listen></admin>{inner}"
        ));
        conf.to_str().expect("a UTF-8 path").to_owned()
    }
}

impl Berth {
    /// Starts `berth run` on `apps` with the admin listener on an ephemeral port (see
    /// [`Apps::admin_conf`]); returns the server and the admin listener's address.
    pub fn start_with_admin(apps: &Apps) -> (Berth, SocketAddr) {
        let conf = apps.admin_conf("");
        let berth = Berth::start_with(apps, &["--conf", &conf]);
        let admin = berth.admin_addr();
        (berth, admin)
    }

    /// The admin listener's address, from its `admin listening addr=` log line.
    pub fn admin_addr(&self) -> SocketAddr {
        let line = self
            .wait_for_log("admin listening addr=", ADMIN_START)
            .unwrap_or_else(|| panic!("no admin listener:\n{}", self.logs()));
        line.split("addr=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok())
            .expect("the admin listening line names the address")
    }
}

/// An answer of the admin listener.
#[derive(Debug)]
pub struct AdminAnswer {
    /// The status code.
    pub status: u16,
    /// The status line and headers.
    pub head: String,
    /// The body.
    pub body: String,
}

impl AdminAnswer {
    /// The body as JSON; panics when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {self:?}"))
    }

    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<String> {
        header(&self.head, name)
    }
}

/// Sends `method path` (no body) to the admin listener at `admin` and returns its answer.
pub async fn admin_request(admin: SocketAddr, method: &str, path: &str) -> AdminAnswer {
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {admin}\r\nConnection: close\r\n\r\n");
    let answer = raw_exchange(admin, &request).await;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    AdminAnswer {
        status: status_of(head),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// `GET path` on the admin listener; panics unless it answers 200.
pub async fn admin_get(admin: SocketAddr, path: &str) -> serde_json::Value {
    let answer = admin_request(admin, "GET", path).await;
    assert_eq!(answer.status, 200, "GET {path}: {answer:?}");
    answer.json()
}
