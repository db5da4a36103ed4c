//! Rows and pairs every load report shares: what the server and the load tool used.

use crate::proc::Usage;
use crate::record::Record;
use crate::table::{Table, num};

/// Adds the server's and the load tool's use over `ops` operations named `op`.
pub fn usage_rows(t: &mut Table, server: Option<Usage>, client: Option<Usage>, ops: u64, op: &str) {
    if let Some(u) = server {
        t.row(&["server CPU (cores)".to_owned(), num(u.cores)]);
        if ops > 0 {
            let per = |v: f64| num(v / ops as f64);
            t.row(&[format!("server CPU us/{op}"), per(u.cpu_seconds * 1e6)]);
            t.row(&[
                format!("server context switches/{op}"),
                per(u.switches as f64),
            ]);
        }
    }
    if let Some(u) = client {
        t.row(&["load tool CPU (cores)".to_owned(), num(u.cores)]);
    }
}

/// The same as record pairs: `server_cores`, `server_us_per_op`, `server_cs_per_op`,
/// `client_cores`.
pub fn usage_pairs(r: &mut Record, server: Option<Usage>, client: Option<Usage>, ops: u64) {
    if let Some(u) = server {
        r.set("server_cores", format!("{:.3}", u.cores));
        if ops > 0 {
            r.set(
                "server_us_per_op",
                format!("{:.3}", u.cpu_seconds * 1e6 / ops as f64),
            );
            r.set(
                "server_cs_per_op",
                format!("{:.3}", u.switches as f64 / ops as f64),
            );
        }
    }
    if let Some(u) = client {
        r.set("client_cores", format!("{:.3}", u.cores));
    }
}
