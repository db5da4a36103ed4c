//! The `chat` sample context: rooms at `/chat/rooms/{room}`.
//!
//! Every text message is broadcast to everyone in the room as `<name>: <text>` (the frame is
//! encoded once for all recipients); joins and leaves are announced as `joined:<name>` and
//! `left:<name>`. The name is the `name` query parameter, else `guest-<session id>`. The
//! `max-message-chars` init-param bounds a message (longer ones are refused with 1009).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use endpoint_api::{
    CloseInfo, CloseReason, Endpoint, Handshake, PluginContext, Session, SessionId,
};

/// The chat rooms of one context.
#[derive(Debug)]
pub struct Chat {
    context: PluginContext,
    rooms: Mutex<HashMap<String, BTreeSet<SessionId>>>,
    max_chars: usize,
}

impl Chat {
    /// Reads `max-message-chars` (default 4000).
    pub fn new(context: &PluginContext) -> Chat {
        let max_chars = context
            .init_param("max-message-chars")
            .and_then(|v| v.parse().ok())
            .unwrap_or(4000);
        Chat {
            context: context.clone(),
            rooms: Mutex::new(HashMap::new()),
            max_chars,
        }
    }

    fn name(session: &Session) -> String {
        session
            .query_param("name")
            .unwrap_or_else(|| format!("guest-{}", session.id()))
    }

    fn room(session: &Session) -> String {
        session.path_param("room").unwrap_or("lobby").to_owned()
    }

    fn announce(&self, room: &str, text: &str) {
        let members: Vec<SessionId> = self
            .rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(room)
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default();
        let _ = self.context.broadcast_text(&members, text);
    }
}

impl Endpoint for Chat {
    fn on_open(&self, session: &Session, _handshake: &Handshake) -> Result<(), CloseReason> {
        let room = Self::room(session);
        self.rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(room.clone())
            .or_default()
            .insert(session.id());
        self.announce(&room, &format!("joined:{}", Self::name(session)));
        Ok(())
    }

    fn on_text(&self, session: &Session, text: &str) {
        if text.chars().count() > self.max_chars {
            let _ = session.close(
                CloseReason::message_too_big().with_reason("message too long for this room"),
            );
            return;
        }
        self.announce(
            &Self::room(session),
            &format!("{}: {text}", Self::name(session)),
        );
    }

    fn on_close(&self, session: &Session, _info: &CloseInfo) {
        let room = Self::room(session);
        {
            let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(members) = rooms.get_mut(&room) {
                members.remove(&session.id());
                if members.is_empty() {
                    rooms.remove(&room);
                }
            }
        }
        self.announce(&room, &format!("left:{}", Self::name(session)));
    }
}

endpoint_api::plugin! {
    "/rooms/{room}" => |context| Chat::new(context),
}
