//! The key's lock on the desk: the idle lock (and locking now), the background sync node that
//! runs only while the key is unlocked, and running a use case on the home, which checks the idle
//! time first and counts the user's own actions as activity.

use std::time::{Duration, Instant};

use countersign_app::{AppError, Home, WireError};

use super::Desk;
use crate::latest_input;

impl Desk {
    /// Locks the key if nothing was done for the idle time (called by a timer and before every
    /// command).
    ///
    /// Whenever the key is locked, however it was (idle, the Lock button, the screen), the
    /// background sync node is stopped too: its peer identity is the key, so while it ran the
    /// key stayed in memory. It starts again once the key is unlocked.
    ///
    /// The node's identity is the key, so once the home's key is rotated (by another program on
    /// the home, or by a rotation the node took in from a peer) the key is locked as well: the
    /// next unlock opens the new key, and the node starts again as it.
    pub fn lock_if_idle(&self) {
        let rotated = self
            .sync
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|s| s.key_rotated());
        let locked = {
            let mut guard = self.home.lock().unwrap_or_else(|p| p.into_inner());
            match guard.as_mut() {
                Ok(home) => {
                    // Unless this handle switched to the new key itself (an unlock that
                    // adopted the rotation while the node ran as the old key).
                    if let Some(moved) = rotated {
                        if home.unlocked_as().is_some_and(|k| k != moved.new) {
                            home.lock();
                            tracing::info!(new = %moved.new, "key locked: this home's key was rotated");
                        }
                    }
                    self.lock_idle(home);
                    self.share_keys(home);
                    !home.is_unlocked()
                }
                Err(_) => false,
            }
        };
        if locked || rotated.is_some() {
            self.stop_sync();
            self.forget_wal();
        }
    }

    /// Truncates the WAL once the sync node (a connection of its own, which may have held it
    /// while the key locked) has stopped: the drafts' earlier versions leave it.
    fn forget_wal(&self) {
        let guard = self.home.lock().unwrap_or_else(|p| p.into_inner());
        if let Ok(home) = guard.as_ref() {
            home.forget_wal("the sync node stopped as the key locked");
        }
    }

    /// Stops the background sync node, if it runs (called with the home's lock not held: the
    /// node's start takes the sync lock, then the home's).
    fn stop_sync(&self) {
        let service = self.sync.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(service) = service {
            service.stop();
            tracing::info!("sync node stopped: the key is locked or was rotated");
        }
    }

    /// Locks the key now, whatever the idle time (the screen locked, the machine is going to
    /// sleep); whether it was unlocked.
    pub fn lock_now(&self, why: &str) -> bool {
        // The node first: its connection would hold up the WAL's truncation as the key locks.
        self.stop_sync();
        let locked = {
            let mut guard = self.home.lock().unwrap_or_else(|p| p.into_inner());
            match guard.as_mut() {
                Ok(home) if home.is_unlocked() => {
                    home.lock();
                    self.share_keys(home);
                    tracing::info!(why, "key locked");
                    true
                }
                _ => false,
            }
        };
        locked
    }

    fn lock_idle(&self, home: &mut Home) {
        let last = *self.last_used.lock().unwrap_or_else(|p| p.into_inner());
        if home.is_unlocked() && last.elapsed() >= self.idle {
            home.lock();
            tracing::info!(
                idle_secs = self.idle.as_secs(),
                "key locked after idle time"
            );
        }
    }

    /// The background sync node's status, starting it on first call once the home has an
    /// identity: listening on all interfaces (TCP and QUIC), finding peers with mDNS, and
    /// dialling the peers in `COUNTERSIGN_PEERS` (comma-separated multiaddrs).
    pub(crate) fn sync_handle(&self) -> Result<countersign_app::sync::ServiceHandle, WireError> {
        let mut guard = self.sync.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let peers: Vec<String> = std::env::var("COUNTERSIGN_PEERS")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect();
            let listen = [
                "/ip4/0.0.0.0/tcp/0".to_string(),
                "/ip4/0.0.0.0/udp/0/quic-v1".to_string(),
            ];
            let mdns = std::env::var_os("COUNTERSIGN_NO_MDNS").is_none();
            // The node's identity is the member key: it runs on a handle holding the key
            // unlocked now, and keeps it (it signs checkpoints) until the app closes.
            let home = self.with(|h| h.open_again())?;
            let service = match countersign_app::sync::Service::start(home, &listen, &peers, mdns) {
                Ok(service) => service,
                Err(e) => {
                    // Refused because this window still holds a key another program rotated
                    // away: locked, so that the next unlock opens the new key (and the node
                    // starts as it), as when a running node says so (`lock_if_idle`).
                    if let AppError::NodeKeyRotated { switched: true, .. } = &e {
                        self.lock_rotated_away();
                    }
                    return Err(e.to_wire());
                }
            };
            *guard = Some(service);
        }
        match guard.as_ref() {
            Some(s) => Ok(s.handle()),
            None => Err(AppError::Sync("not started".into()).to_wire()),
        }
    }

    /// Locks the key if this window holds one that is no longer the home's (called with the
    /// sync lock held: the home's is taken after it, as everywhere).
    fn lock_rotated_away(&self) {
        let mut guard = self.home.lock().unwrap_or_else(|p| p.into_inner());
        if let Ok(home) = guard.as_mut() {
            let profile = home.whoami().ok().map(|w| w.key);
            if home.unlocked_as().is_some_and(|k| Some(k) != profile) {
                home.lock();
                tracing::info!("key locked: this home's key was rotated by another program");
            }
        }
    }

    /// Runs a use case on the home, with its error in wire form. Not activity for the idle
    /// lock by itself: reads also come from the UI's own reloads (a sync's arrival, a poll).
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Home) -> Result<T, AppError>,
    ) -> Result<T, WireError> {
        self.run(false, f)
    }

    /// As [`Desk::with`], for what only the user does (signing, typing, importing, unlocking):
    /// activity, like the input the UI reports with the `activity` command.
    pub(crate) fn act<T>(
        &self,
        f: impl FnOnce(&mut Home) -> Result<T, AppError>,
    ) -> Result<T, WireError> {
        self.run(true, f)
    }

    /// The user's input the window reports, which happened `ago` before now (it tells input
    /// at most every 5 s, the last of a burst when they end: `ui/src/lib/activity.ts`):
    /// activity for the idle lock from when it happened, so the lock comes the idle time after
    /// the user's last input, neither sooner nor later.
    pub fn input(&self, ago: Duration) -> Result<(), WireError> {
        // The idle check every command makes, first.
        self.with(|_| Ok(()))?;
        let mut last = self.last_used.lock().unwrap_or_else(|p| p.into_inner());
        *last = latest_input(*last, Instant::now(), ago);
        Ok(())
    }

    fn run<T>(
        &self,
        active: bool,
        f: impl FnOnce(&mut Home) -> Result<T, AppError>,
    ) -> Result<T, WireError> {
        // A use case that panicked left the home as SQLite left it (committed or not): usable.
        let mut guard = self
            .home
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let home = guard.as_mut().map_err(|e| e.clone())?;
        self.lock_idle(home);
        let touch = || {
            if active {
                *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
            }
        };
        touch();
        let result = f(home);
        self.share_keys(home);
        // A long command (an import) ends as activity too: idle time counts from its end.
        touch();
        result.map_err(|e| {
            // What the UI shows is the message; the log gets its PHI-free form.
            tracing::info!(code = e.code(), error = %e.loggable(), "command failed");
            e.to_wire()
        })
    }
}
