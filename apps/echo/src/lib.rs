//! The `echo` sample context: every text and binary message goes back to its sender.
//!
//! Served at `ws://HOST:PORT/echo/` (the directory name is the context path). The optional
//! `greeting` init-param is sent to each new session first — an `init-param` in use.

use endpoint_api::{Binary, CloseReason, Endpoint, Handshake, PluginContext, Session, Text};

/// Echoes text and binary messages.
#[derive(Debug)]
pub struct Echo {
    greeting: Option<String>,
}

impl Echo {
    /// Reads the `greeting` init-param.
    pub fn new(context: &PluginContext) -> Echo {
        Echo {
            greeting: context.init_param("greeting").map(str::to_owned),
        }
    }
}

impl Endpoint for Echo {
    type State = ();

    fn on_open(&self, session: &Session, _handshake: &Handshake) -> Result<(), CloseReason> {
        if let Some(greeting) = &self.greeting {
            session
                .send_text(greeting)
                .map_err(|_| CloseReason::internal_error())?;
        }
        Ok(())
    }

    fn on_text(&self, session: &Session, _: &mut (), text: Text<'_>) {
        let _ = session.send_text(&text);
    }

    fn on_binary(&self, session: &Session, _: &mut (), data: Binary<'_>) {
        let _ = session.send_binary(&data);
    }
}

endpoint_api::plugin! {
    "/" => |context| Echo::new(context),
}

#[cfg(test)]
mod tests {
    use super::*;
    use endpoint_api::mock::{MockHost, Sent};

    #[test]
    fn greets_then_echoes_text_and_binary() {
        let host = MockHost::builder()
            .init_param("greeting", "hello")
            .plugin(&PLUGIN)
            .build()
            .expect("deployed");
        let session = host.connect("/").expect("accepted");
        host.text(&session, "ping");
        host.binary(&session, &[0, 1, 2]);
        assert_eq!(
            host.sent(session.id()),
            [
                Sent::Text("hello".into()),
                Sent::Text("ping".into()),
                Sent::Binary(vec![0, 1, 2])
            ]
        );
    }

    #[test]
    fn without_a_greeting_it_is_a_pure_echo() {
        let host = MockHost::deploy(&PLUGIN).expect("deployed");
        let session = host.connect("/").expect("accepted");
        host.text(&session, "only this");
        assert_eq!(host.sent_texts(session.id()), ["only this"]);
    }
}
