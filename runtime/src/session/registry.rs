//! The open sessions of one context, by id: looked up by host services, listed by the idle
//! monitor, broadcasts and shutdown, emptied when the last `on_close` has run.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::Notify;

use super::handle::SessionHandle;

/// The open sessions of one context.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    sessions: RwLock<HashMap<u64, Arc<SessionHandle>>>,
    emptied: Notify,
}

impl Registry {
    pub(crate) fn insert(&self, session: Arc<SessionHandle>) {
        self.write().insert(session.id, session);
    }

    pub(crate) fn remove(&self, id: u64) {
        let mut sessions = self.write();
        sessions.remove(&id);
        // After a crowd has gone, its table need not stay.
        if sessions.capacity() > 1024 && sessions.len() * 8 < sessions.capacity() {
            sessions.shrink_to_fit();
        }
        if sessions.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    /// Resolves once no session is left.
    pub(crate) async fn emptied(&self) {
        loop {
            // Created before the check, so a removal in between still wakes it.
            let notified = self.emptied.notified();
            if self.len() == 0 {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn get(&self, id: u64) -> Option<Arc<SessionHandle>> {
        self.read().get(&id).cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.read().len()
    }

    /// The ids of the open sessions of one endpoint.
    pub(crate) fn of_endpoint(&self, endpoint: u32) -> Vec<u64> {
        self.read()
            .values()
            .filter(|s| s.endpoint == endpoint && !s.is_closing())
            .map(|s| s.id)
            .collect()
    }

    /// Every session, for the idle monitor, shutdown and undeploy.
    pub(crate) fn all(&self) -> Vec<Arc<SessionHandle>> {
        self.read().values().cloned().collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<u64, Arc<SessionHandle>>> {
        self.sessions.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<u64, Arc<SessionHandle>>> {
        self.sessions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
