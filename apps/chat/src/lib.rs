//! The `chat` sample context: rooms at `/chat/rooms/{room}`.
//!
//! Every text message is broadcast to everyone in the room as `<name>: <text>` (the frame is
//! encoded once for all recipients); joins and leaves are announced as `joined:<name>` and
//! `left:<name>`. The name is the `name` query parameter, else `guest-<session id>`. The
//! `max-message-chars` init-param bounds a message (longer ones are refused with 1009).

use std::collections::{BTreeSet, HashMap};

use endpoint_api::{
    CloseInfo, CloseReason, Endpoint, Handshake, Lock, PluginContext, Session, SessionId, Text,
};

/// The chat rooms of one context.
#[derive(Debug)]
pub struct Chat {
    context: PluginContext,
    rooms: Lock<HashMap<String, BTreeSet<SessionId>>>,
    max_chars: usize,
}

/// Who a session is, and where.
#[derive(Debug, Default)]
pub struct Member {
    room: String,
    name: String,
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
            rooms: Lock::default(),
            max_chars,
        }
    }

    fn announce(&self, room: &str, text: &str) {
        let members: Vec<SessionId> = self
            .rooms
            .lock()
            .get(room)
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default();
        let _ = self.context.broadcast_text(&members, text);
    }
}

impl Endpoint for Chat {
    type State = Member;

    fn on_open(&self, session: &Session, _handshake: &Handshake) -> Result<Member, CloseReason> {
        let member = Member {
            room: session.path_param("room").unwrap_or("lobby").to_owned(),
            name: session
                .query_param("name")
                .map_or_else(|| format!("guest-{}", session.id()), str::to_owned),
        };
        let mut rooms = self.rooms.lock();
        rooms
            .entry(member.room.clone())
            .or_default()
            .insert(session.id());
        drop(rooms);
        self.announce(&member.room, &format!("joined:{}", member.name));
        Ok(member)
    }

    fn on_text(&self, session: &Session, member: &mut Member, text: Text<'_>) {
        if text.chars().count() > self.max_chars {
            let _ = session.close(
                CloseReason::message_too_big().with_reason("message too long for this room"),
            );
            return;
        }
        self.announce(&member.room, &format!("{}: {text}", member.name));
    }

    fn on_close(&self, session: &Session, member: &mut Member, _info: &CloseInfo) {
        {
            let mut rooms = self.rooms.lock();
            if let Some(members) = rooms.get_mut(&member.room) {
                members.remove(&session.id());
                if members.is_empty() {
                    rooms.remove(&member.room);
                }
            }
        }
        self.announce(&member.room, &format!("left:{}", member.name));
    }
}

endpoint_api::plugin! {
    "/rooms/{room}" => |context| Chat::new(context),
}

#[cfg(test)]
mod tests {
    use super::*;
    use endpoint_api::CloseCause;
    use endpoint_api::mock::MockHost;

    #[test]
    fn rooms_hear_joins_messages_and_leaves_of_their_own_members() {
        let host = MockHost::deploy(&PLUGIN).expect("deployed");
        let ann = host.connect("/rooms/a?name=ann").expect("ann");
        let bob = host.connect("/rooms/a?name=bob").expect("bob");
        let elsewhere = host.connect("/rooms/b").expect("guest");
        host.text(&ann, "hi");
        host.close(&bob, CloseCause::ConnectionLost);
        assert_eq!(
            host.sent_texts(ann.id()),
            ["joined:ann", "joined:bob", "ann: hi", "left:bob"]
        );
        let guest = format!("joined:guest-{}", elsewhere.id());
        assert_eq!(host.sent_texts(elsewhere.id()), [guest]);
    }

    #[test]
    fn a_message_over_the_limit_closes_with_1009() {
        let host = MockHost::builder()
            .init_param("max-message-chars", "3")
            .plugin(&PLUGIN)
            .build()
            .expect("deployed");
        let ann = host.connect("/rooms/a?name=ann").expect("ann");
        host.text(&ann, "long");
        assert_eq!(host.close_info(ann.id()).map(|i| i.code), Some(1009));
    }
}
