//! The home's identity and its key: what the window shows first (`status`), unlocking and
//! locking the key, the user's activity for the idle lock, making an identity, joining a
//! department with an invitation, and opening the demo.

use serde::Serialize;
use tauri::State;

use countersign_app::keys::KeyStoreKind;
use countersign_app::ledger::Role;
use countersign_app::{AppError, DemoSummary, Passphrase, WhoAmI, DEMO_PASSPHRASE};

use super::Reply;
use crate::Desk;

#[derive(Debug, Serialize)]
pub struct Status {
    home: String,
    identity: Option<WhoAmI>,
    /// The home has an identity whose key is not unlocked (at start, or after the idle time).
    locked: bool,
    /// The key is still stored unsealed (a home from before sealed keys): unlocking seals it
    /// under the passphrase given.
    unsealed: bool,
    /// The passphrase `Open demo` seals the demo keys under (documented).
    demo_passphrase: &'static str,
}

#[tauri::command]
pub(super) fn status(desk: State<'_, Desk>) -> Reply<Status> {
    let home = desk.dir.display().to_string();
    desk.with(|h| {
        let identity = match h.whoami() {
            Err(AppError::NotInitialized { .. }) => None,
            other => Some(other?),
        };
        Ok(Status {
            home,
            locked: identity.is_some() && !h.is_unlocked(),
            unsealed: h.key_unsealed()?,
            identity,
            demo_passphrase: DEMO_PASSPHRASE,
        })
    })
}

/// Joins the department an admin's invitation names (for this home's key).
#[tauri::command]
pub(super) fn join(desk: State<'_, Desk>, invitation: String) -> Reply<countersign_app::Joined> {
    desk.act(|h| h.join(&invitation))
}

/// Opens the key for this session (until the idle lock): a sealed key with the passphrase, a key
/// on a hardware token with its PIN, a key in the OS keychain from the keychain
/// (`identity.needs_passphrase` says whether one is asked).
#[tauri::command(async)]
pub(super) fn unlock(desk: State<'_, Desk>, passphrase: Option<String>) -> Reply<WhoAmI> {
    let passphrase = passphrase.map(Passphrase::new);
    desk.act(|h| h.unlock_with(passphrase.as_ref()))
}

/// The user did something (the UI reports input, at most every 5 s, the last of a burst up to
/// 5 s late, `ago_ms` after it happened): the idle lock counts from when it happened.
#[tauri::command]
pub(super) fn activity(desk: State<'_, Desk>, ago_ms: Option<u64>) -> Reply<()> {
    // At debug level, for a lock to be explained from the log: when the window last reported
    // input (nothing about what the input was).
    tracing::debug!(ago_ms, "input reported by the window");
    desk.input(std::time::Duration::from_millis(ago_ms.unwrap_or(0)))
}

/// Wipes the key from memory now.
#[tauri::command]
pub(super) fn lock(desk: State<'_, Desk>) -> Reply<()> {
    desk.act(|h| {
        h.lock();
        Ok(())
    })
}

#[tauri::command(async)]
pub(super) fn init_identity(
    desk: State<'_, Desk>,
    name: String,
    role: String,
    admin: bool,
    network: Option<String>,
    store: Option<String>,
    passphrase: Option<String>,
) -> Reply<WhoAmI> {
    let role: Role = role
        .parse()
        .map_err(|e: String| AppError::InvalidInput(e).to_wire())?;
    let network = admin.then(|| network.unwrap_or_else(|| "Radiology department".into()));
    let store: KeyStoreKind = match store.as_deref() {
        None => KeyStoreKind::Sealed,
        Some(s) => s
            .parse()
            .map_err(|e: String| AppError::InvalidInput(e).to_wire())?,
    };
    match (store, passphrase) {
        (KeyStoreKind::Sealed, Some(passphrase)) => {
            let passphrase = Passphrase::new(passphrase);
            desk.act(|h| h.init_sealed(&name, role, network.as_deref(), None, &passphrase))
        }
        (KeyStoreKind::Keychain, None) => {
            desk.act(|h| h.init_keychain(&name, role, network.as_deref(), None))
        }
        (KeyStoreKind::Sealed, None) => Err(AppError::InvalidInput(
            "a key sealed on this computer needs a passphrase".into(),
        )
        .to_wire()),
        (KeyStoreKind::Keychain, Some(_)) => Err(AppError::InvalidInput(
            "a key kept in the OS keychain takes no passphrase".into(),
        )
        .to_wire()),
        // A token needs its module, label and PIN: the CLI sets it up.
        (KeyStoreKind::Token, _) => Err(AppError::InvalidInput(
            "a key on a hardware token is set up with `countersign init --key-store token`".into(),
        )
        .to_wire()),
    }
}

#[tauri::command(async)]
pub(super) fn open_demo(desk: State<'_, Desk>, passphrase: String) -> Reply<DemoSummary> {
    let passphrase = Passphrase::new(passphrase);
    desk.act(|h| h.demo_sealed(&passphrase))
}
