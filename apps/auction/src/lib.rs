//! The `auction` sample context: bids at `/auction/auctions/{item}?user=NAME` (see README).

use std::collections::HashMap;
use std::str::FromStr;

use endpoint_api::{
    Accept, CloseInfo, CloseReason, Endpoint, ErrorKind, Handshake, Lock, PluginContext, Refuse,
    Session, SessionError, Text,
};

/// A bid as clients send it, `bid <n>`: a typed message.
struct Bid(u64);

impl FromStr for Bid {
    type Err = String;

    fn from_str(text: &str) -> Result<Bid, String> {
        let n = text.strip_prefix("bid ").ok_or("expected `bid <n>`")?;
        n.parse().map(Bid).map_err(|e| e.to_string())
    }
}

/// Who a session is and what it bids on: its typed state.
#[derive(Default)]
struct Bidder {
    user: String,
    item: String,
}

/// Each item's high bid, `(user, amount)`.
struct Auction {
    context: PluginContext,
    highs: Lock<HashMap<String, (String, u64)>>,
}

impl Auction {
    /// Tells the item's open sessions (their handshakes name the item).
    fn tell(&self, item: &str, text: &str) {
        let mut ids = self.context.sessions().unwrap_or_default();
        ids.retain(|id| {
            let session = self.context.session(*id);
            session.is_some_and(|s| s.is_open() && s.path_param("item") == Some(item))
        });
        let _ = self.context.broadcast_text(&ids, text);
    }
}

impl Endpoint for Auction {
    type State = Bidder;
    const DECIDES_HANDSHAKES: bool = true;

    fn on_handshake(&self, handshake: &Handshake) -> Result<Accept, Refuse> {
        match handshake.query_param("user") {
            Some(user) if !user.is_empty() => Ok(Accept::new()),
            _ => Err(Refuse::forbidden()
                .with_header("X-Auction-Requires", "user")
                .with_body("bidders name themselves: ?user=NAME")),
        }
    }

    fn on_open(&self, session: &Session, handshake: &Handshake) -> Result<Bidder, CloseReason> {
        let user = handshake.query_param("user").unwrap_or_default().to_owned();
        let item = handshake.path_param("item").unwrap_or_default().to_owned();
        let high = self.highs.lock().get(&item).cloned();
        let (who, n) = high.unwrap_or(("none".into(), 0));
        let _ = session.send_text(&format!("high {who} {n}"));
        Ok(Bidder { user, item })
    }

    fn on_text(&self, session: &Session, bidder: &mut Bidder, text: Text<'_>) {
        let Some(Bid(n)) = text.parsed() else { return }; // on_error answers
        let mut highs = self.highs.lock();
        let high = highs.entry(bidder.item.clone()).or_default();
        if n <= high.1 {
            drop(highs);
            return drop(session.send_text("rejected"));
        }
        *high = (bidder.user.clone(), n);
        drop(highs);
        self.tell(&bidder.item, &format!("new-high {} {n}", bidder.user));
    }

    fn on_error(&self, session: &Session, _: &mut Bidder, error: &SessionError) {
        if error.kind == ErrorKind::Decode {
            let _ = session.send_text("rejected");
        }
    }

    // However the session ended; it is no longer open here, so `tell` skips it.
    fn on_close(&self, _: &Session, bidder: &mut Bidder, _: &CloseInfo) {
        self.tell(&bidder.item, &format!("left {}", bidder.user));
    }
}

endpoint_api::plugin! {
    "/auctions/{item}" => |context| Auction { context: context.clone(), highs: Lock::default() },
}
