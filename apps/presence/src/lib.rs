//! The `presence` sample context: which client vanished?
//!
//! A client names itself in the handshake — a `user` query parameter, else a `user` cookie —
//! and `on_open` maps that name to the session (as a user property, the way a JSR 356
//! endpoint would use `getUserProperties()`: the container and other sessions can read it).
//! Every other session gets `joined:<user>`. However the session ends — a clean close, a
//! closed tab, a killed browser, a silent network loss caught by keepalive — exactly one
//! `on_close` runs, and the others get `left:<user>`. No session id has to be dug out of a
//! URL. A client without a name is closed with 1008 right after the upgrade.

use endpoint_api::{
    CloseInfo, CloseReason, Endpoint, Handshake, LogLevel, PluginContext, Session, Text,
};

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
    type State = ();

    fn on_open(&self, session: &Session, handshake: &Handshake) -> Result<(), CloseReason> {
        let user = handshake
            .query_param("user")
            .or_else(|| handshake.cookie("user"))
            .ok_or_else(|| {
                CloseReason::policy_violation()
                    .with_reason("name yourself: ?user=NAME or a user cookie")
            })?;
        session
            .set(USER, user)
            .map_err(|_| CloseReason::internal_error())?;
        self.tell_others(session, &format!("joined:{user}"));
        Ok(())
    }

    fn on_text(&self, session: &Session, _: &mut (), text: Text<'_>) {
        if text == "who" {
            let user: Option<String> = session.get(USER).ok().flatten();
            let _ = session.send_text(&format!("you:{}", user.unwrap_or_default()));
        }
    }

    fn on_close(&self, session: &Session, _: &mut (), info: &CloseInfo) {
        let user: Option<String> = session.get(USER).ok().flatten();
        if let Some(user) = user {
            self.context.log(
                LogLevel::Info,
                &format!("{user} left: code {} ({:?})", info.code, info.cause),
            );
            self.tell_others(session, &format!("left:{user}"));
        }
    }
}

endpoint_api::plugin! {
    "/" => |context| Presence::new(context),
}

#[cfg(test)]
mod tests {
    use super::*;
    use endpoint_api::CloseCause;
    use endpoint_api::mock::MockHost;

    #[test]
    fn others_hear_who_came_and_who_vanished() {
        let host = MockHost::deploy(&PLUGIN).expect("deployed");
        let watcher = host.connect("/?user=watcher").expect("watcher");
        let ann = host
            .connect_with(Handshake::new("/").with_header("Cookie", "user=ann"))
            .expect("ann");
        host.text(&ann, "who");
        host.close(&ann, CloseCause::PongTimeout);
        assert_eq!(host.sent_texts(ann.id()), ["you:ann"]);
        assert_eq!(host.sent_texts(watcher.id()), ["joined:ann", "left:ann"]);
    }

    #[test]
    fn a_nameless_client_is_closed_with_1008_and_announced_to_nobody() {
        let host = MockHost::deploy(&PLUGIN).expect("deployed");
        let watcher = host.connect("/?user=watcher").expect("watcher");
        let nameless = host.connect("/").expect("upgraded, then closed");
        assert_eq!(host.close_info(nameless.id()).map(|i| i.code), Some(1008));
        assert!(host.sent_texts(watcher.id()).is_empty());
    }
}
