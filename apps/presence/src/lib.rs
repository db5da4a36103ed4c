//! The `presence` sample context: which client vanished?
//!
//! A client names itself in the handshake — a `user` query parameter, else a `user` cookie —
//! and `on_open` maps that name to the session (as a user property, the way a JSR 356
//! endpoint would use `getUserProperties()`). Every other session gets `joined:<user>`.
//! However the session ends — a clean close, a closed tab, a killed browser, a silent
//! network loss caught by keepalive — exactly one `on_close` runs, and the others get
//! `left:<user>`. No session id has to be dug out of a URL.

use endpoint_api::{CloseInfo, CloseReason, Endpoint, Handshake, PluginContext, Session};

const USER: &str = "presence.user";

/// Announces arrivals and departures to everyone else.
#[derive(Debug)]
pub struct Presence {
    context: PluginContext,
}

impl Presence {
    /// A presence endpoint for this context.
    pub fn new(context: &PluginContext) -> Presence {
        Presence {
            context: context.clone(),
        }
    }

    fn tell_others(&self, session: &Session, text: &str) {
        let others: Vec<_> = self
            .context
            .sessions()
            .unwrap_or_default()
            .into_iter()
            .filter(|id| *id != session.id())
            .collect();
        let _ = self.context.broadcast_text(&others, text);
    }
}

impl Endpoint for Presence {
    fn on_open(&self, session: &Session, handshake: &Handshake) -> Result<(), CloseReason> {
        let user = handshake
            .query_param("user")
            .or_else(|| handshake.cookie("user").map(str::to_owned))
            .ok_or_else(|| {
                CloseReason::policy_violation()
                    .with_reason("name yourself: ?user=NAME or a user cookie")
            })?;
        session
            .set(USER, &user)
            .map_err(|_| CloseReason::internal_error())?;
        self.tell_others(session, &format!("joined:{user}"));
        Ok(())
    }

    fn on_text(&self, session: &Session, text: &str) {
        if text == "who" {
            let _ = session.send_text(&format!(
                "you:{}",
                session
                    .get::<String>(USER)
                    .ok()
                    .flatten()
                    .unwrap_or_default()
            ));
        }
    }

    fn on_close(&self, session: &Session, info: &CloseInfo) {
        let user: Option<String> = session.get(USER).ok().flatten();
        if let Some(user) = user {
            self.context.log(
                endpoint_api::LogLevel::Info,
                &format!("{user} left: code {} ({:?})", info.code, info.cause),
            );
            self.tell_others(session, &format!("left:{user}"));
        }
    }
}

endpoint_api::plugin! {
    "/" => |context| Presence::new(context),
}
