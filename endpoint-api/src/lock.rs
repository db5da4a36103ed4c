//! [`Lock`]: a mutex for endpoint state that a caught panic does not poison.
//!
//! A panic in a callback is caught by the SDK (the session closes with 1011, the endpoint keeps
//! serving). A `std::sync::Mutex` held while the panic unwound is then *poisoned*: every later
//! `lock()` returns `Err`, and code that `unwrap`s it panics in turn, in every session. `Lock`
//! hands the data out anyway, so one failed callback cannot take the endpoint down with it.
//! The price is the one poisoning exists for: the data may be half-updated by the callback that
//! panicked. Keep the invariants of what you lock simple — change it in one step (an insert, a
//! remove) rather than in several that must all happen — or check them after locking.

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

/// A mutex that is never poisoned (see the module docs of why, and what that means).
///
/// Use it for what an endpoint shares between its sessions (rooms, the current high bid);
/// per-session data belongs in the endpoint's [`State`](crate::Endpoint::State), which needs
/// no lock.
///
/// ```
/// use std::collections::HashSet;
/// use endpoint_api::Lock;
///
/// let names: Lock<HashSet<String>> = Lock::default();
/// names.lock().insert("ann".to_owned());
/// let caught = std::panic::catch_unwind(|| {
///     let _held = names.lock();
///     panic!("a callback failed while holding the lock");
/// });
/// assert!(caught.is_err());
/// assert!(names.lock().contains("ann"), "still usable after the panic");
/// ```
#[derive(Default)]
pub struct Lock<T: ?Sized> {
    inner: Mutex<T>,
}

impl<T> Lock<T> {
    /// A lock holding `value`.
    pub const fn new(value: T) -> Lock<T> {
        Lock {
            inner: Mutex::new(value),
        }
    }

    /// The data, consuming the lock.
    pub fn into_inner(self) -> T {
        self.inner
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: ?Sized> Lock<T> {
    /// Locks, waiting for other holders; never fails.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Lock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `try_lock`: printing a lock its own thread holds must not deadlock.
        match self.inner.try_lock() {
            Ok(data) => f.debug_tuple("Lock").field(&&*data).finish(),
            Err(TryLockError::Poisoned(poisoned)) => f
                .debug_tuple("Lock")
                .field(&&*poisoned.into_inner())
                .finish(),
            Err(TryLockError::WouldBlock) => f.write_str("Lock(<locked>)"),
        }
    }
}
