//! `countersign agent`: the home's key unlocked once and held by one process, which signs for the
//! owner's other commands over a Unix socket — as `ssh-agent` does — so that a script signs many
//! entries with one passphrase and never holds the key itself.
//!
//! - **Who may ask**: the socket is created owner-only (mode 0600) in the home's owner-only folder,
//!   and the agent also checks each connection's peer credentials: a process of another user is
//!   answered with nothing.
//! - **What it signs**: entries authored by its key and invitations it issues, judged by
//!   [`proto::may_sign`] — never an arbitrary message, a checkpoint or another key's entry.
//! - **Bounds**: frames of at most [`proto::MAX_FRAME`] bytes (the length is checked before
//!   anything is read), at most [`MAX_CLIENTS`] connections at once, each dropped after
//!   [`CLIENT_TIMEOUT`] without a whole request.
//! - **Lifetime**: it forgets the key and exits after `idle` without a signature (default
//!   [`DEFAULT_IDLE`], as the desktop's idle lock) and removes its socket; killing it leaves a
//!   stale socket, which the next agent replaces after checking nobody answers on it.
//! - **A key rotated away**: before every answer it looks whether its key is still its home's
//!   to sign with ([`Held::look`]); once the home's profile names another key (another program
//!   adopted a rotation) or the roster rotated, replaced or revoked its key, it answers that it
//!   put the key away (`key_rotated` at the client), wipes it and exits. Without it, signatures
//!   kept resetting the idle time, and the commands asking it — which mostly hold no passphrase,
//!   so never adopt a rotation themselves, and whose profile stays on the old key — kept the
//!   old key in memory and signing for good.
//!
//! A client points at it with `COUNTERSIGN_AGENT_SOCK` (or `--agent PATH`): the home then asks
//! the agent instead of a passphrase source when it first needs to sign ([`Home::use_agent`]).
//! A sync node's peer identity needs the key in its own memory, so `serve` and `sync` still take
//! the passphrase.
//!
//! ```no_run
//! use countersign_app::agent::AgentOptions;
//! use countersign_app::{Home, Passphrase, PassphraseSource};
//!
//! let home = std::path::Path::new("/tmp/home");
//! let source = PassphraseSource::fixed(Passphrase::new("correct horse battery"));
//! let options = AgentOptions::for_home(home);
//! Home::open_with(home, source)?.serve_agent(&options, |socket, key| {
//!     println!("COUNTERSIGN_AGENT_SOCK={}; export COUNTERSIGN_AGENT_SOCK; # key {key}", socket.display());
//! })?;
//! # Ok::<(), countersign_app::AppError>(())
//! ```

mod client;
pub mod proto;

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use countersign_ledger::{EntryId, NetworkId, PublicKey, Signer};

use client::AgentSigner;

use crate::error::{AppError, Result};
use crate::home::Home;
use crate::keys::KeyHandle;
use proto::{Request, Response};

#[cfg(test)]
mod tests;

/// Connections served at once; one more is told to try again.
pub const MAX_CLIENTS: usize = 8;
/// How long a connection may take to send a whole request.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the agent keeps the key without signing anything.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(600);
/// The longest socket path (the kernel's `sun_path` holds 108 bytes with its terminator).
const MAX_SOCKET_PATH: usize = 100;

/// Where and how long an agent serves.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    pub socket: PathBuf,
    pub idle: Duration,
}

impl AgentOptions {
    /// The default: `<home>/agent.sock`, forgetting the key after [`DEFAULT_IDLE`].
    pub fn for_home(home: &Path) -> AgentOptions {
        AgentOptions {
            socket: home.join("agent.sock"),
            idle: DEFAULT_IDLE,
        }
    }
}

/// What an agent did before it stopped.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AgentSummary {
    pub key: PublicKey,
    pub signatures: u64,
    pub refused: u64,
}

/// The key, what is looked at before it signs, counters and the time of the last signature,
/// shared by the connection threads.
struct Shared {
    public: PublicKey,
    held: Mutex<Held>,
    last_signature: Mutex<Instant>,
    signatures: AtomicUsize,
    refused: AtomicUsize,
    clients: AtomicUsize,
    /// Written once the key is put away for good, to wake the accepting loop out of its poll
    /// (which waits up to the idle time) so the agent exits then, not at its idle time.
    wake: UnixStream,
}

/// The key and the home it is checked against, behind one lock: a signature is made only
/// under the look that found the key still the home's.
struct Held {
    /// `None` once put away (wiped: the agent held the only copy).
    key: Option<KeyHandle>,
    /// The home opened again without a passphrase source or a key: only its profile and its
    /// roster are read.
    home: Home,
    /// The roster log's heads at the last look at the roster (`None`: not looked at yet).
    roster_seen: Option<Vec<EntryId>>,
    /// Why the key was put away for good.
    retired: Option<String>,
}

impl Held {
    /// Why `key` is no longer the home's to sign with, if it is not. Looked at before every
    /// answer, at a cost that every signature can bear: the profile (`identity.json`, a small
    /// file that adopting a rotation rewrites) is read every time; the roster only when its
    /// log's heads moved since the last look (one indexed read of the store). A script's every
    /// signature is followed by a commit, so the store's `data_version` moves between any two
    /// and cannot say when; the roster changes rarely, and resolving it reads all of its log.
    fn look(&mut self, key: &PublicKey) -> Result<Option<String>> {
        match self.home.keys().profile()? {
            Some(p) if p.key == *key => {}
            Some(p) => {
                return Ok(Some(format!(
                    "this home signs as {} now (its key was rotated, and the rotation adopted)",
                    p.key
                )))
            }
            None => return Ok(Some("this home holds no identity any more".into())),
        }
        let db = self.home.store().db();
        let Some(network) = db.meta("network")? else {
            // No department yet: no roster names the key.
            return Ok(None);
        };
        let network: NetworkId = network
            .parse()
            .map_err(|_| AppError::InvalidInput("stored network id is damaged".into()))?;
        // The roster log's id is the network's.
        let heads = db.heads(&network)?;
        if self.roster_seen.as_ref() == Some(&heads) {
            return Ok(None);
        }
        let state = self.home.state()?;
        let roster = state.roster();
        let why = if let Some(r) = roster.rotation_of(key) {
            // A rotation, or an admin's replacement of a lost key.
            Some(format!(
                "the department's roster moved it to key {} (entry {})",
                r.new, r.entry
            ))
        } else {
            roster
                .member(key)
                .and_then(|m| m.revoked.as_ref())
                .map(|r| format!("the department's roster revoked it (entry {})", r.entry))
        };
        self.roster_seen = Some(heads);
        Ok(why)
    }

    /// The key if it is still the home's to sign with; else the answer to give instead: the
    /// key put away for good (wiped) and why, or a refusal when the look itself failed (a
    /// damaged profile, a busy store: nothing is signed, and the key is kept for a later look).
    fn key(&mut self, public: &PublicKey) -> std::result::Result<&KeyHandle, Response> {
        if self.retired.is_none() {
            match self.look(public) {
                Ok(None) => {}
                Ok(Some(why)) => {
                    self.key = None;
                    let why = format!(
                        "the agent's key {public} is no longer this home's to sign with ({why}): \
                         it was forgotten and the agent stopped; start it again to sign as the \
                         key this home names now"
                    );
                    tracing::warn!(key = %public, "agent: key rotated away, forgotten; stopping");
                    self.retired = Some(why);
                }
                Err(e) => {
                    tracing::warn!(error = e.code(), "agent: could not check its key");
                    return Err(Response::Refused(format!(
                        "the agent could not check that its key is still this home's: {e}"
                    )));
                }
            }
        }
        match (&self.key, &self.retired) {
            (Some(key), None) => Ok(key),
            (_, Some(why)) => Err(Response::Retired(why.clone())),
            (None, None) => Err(Response::Refused("the agent forgot its key".into())),
        }
    }
}

impl Shared {
    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Home {
    /// Unlocks this home's key (asking its passphrase source once) and serves it on
    /// `options.socket` until `options.idle` passes without a signature; `ready` is called once
    /// the socket is listening, with its path and the key.
    pub fn serve_agent(
        mut self,
        options: &AgentOptions,
        ready: impl FnOnce(&Path, &PublicKey),
    ) -> Result<AgentSummary> {
        // Clients run from other folders.
        let socket = std::path::absolute(&options.socket)
            .map_err(AppError::io("resolving the agent socket's path"))?;
        let key = self.signer()?;
        let public = key.public();
        // Dropped with its passphrase source, its copy of the key and its data keys; what the
        // agent looks at before signing is read on a handle that holds none of them.
        let dir = self.dir().to_path_buf();
        drop(self);
        let mut held = Held {
            key: Some(key),
            home: Home::open(&dir)?,
            roster_seen: None,
            retired: None,
        };
        // A key rotated away already (a rotation this home cannot adopt, a revocation) is not
        // served at all.
        if let Err(Response::Retired(why)) = held.key(&public) {
            return Err(AppError::AgentKeyRetired(why));
        }
        let listener = bind(&socket)?;
        let (wake, woken) =
            UnixStream::pair().map_err(AppError::io("setting up the agent's wake-up"))?;
        woken
            .set_nonblocking(true)
            .map_err(AppError::io("setting up the agent's wake-up"))?;
        let shared = Arc::new(Shared {
            public,
            held: Mutex::new(held),
            last_signature: Mutex::new(Instant::now()),
            signatures: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            clients: AtomicUsize::new(0),
            wake,
        });
        tracing::info!(key = %public, "agent serving");
        ready(&socket, &public);
        let result = accept_until_idle(&listener, &woken, &shared, options.idle);
        // Whatever stopped it, nobody is answered on this path any more, and the key is wiped
        // now rather than when the last connection's thread lets go.
        let _ = std::fs::remove_file(&socket);
        let retired = {
            let mut held = shared.held();
            held.key = None;
            held.retired.clone()
        };
        result?;
        if let Some(why) = retired {
            return Err(AppError::AgentKeyRetired(why));
        }
        tracing::info!(key = %public, "agent idle: key forgotten");
        Ok(AgentSummary {
            key: public,
            signatures: shared.signatures.load(Ordering::Relaxed) as u64,
            refused: shared.refused.load(Ordering::Relaxed) as u64,
        })
    }

    /// Signs through the agent on `socket` from now on, instead of unsealing the key here. The
    /// agent is asked only when a signature is first needed (a command that only reads works
    /// without one); it must then answer and hold this home's key.
    pub fn use_agent(&mut self, socket: &Path) {
        self.set_agent(socket.to_path_buf());
    }
}

/// The agent on `socket` as this home's signer, checked to hold `key`.
pub(crate) fn signer(socket: &Path, key: &PublicKey) -> Result<KeyHandle> {
    Ok(KeyHandle::External(Arc::new(AgentSigner::connect(
        socket, key,
    )?)))
}

fn unavailable(socket: &Path, why: impl std::fmt::Display) -> AppError {
    AppError::AgentUnavailable(format!("the agent at {}: {why}", socket.display()))
}

/// Binds the socket owner-only, replacing a stale one (nobody answering on it) but never a
/// live agent's.
fn bind(socket: &Path) -> Result<UnixListener> {
    if socket.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(AppError::InvalidInput(format!(
            "the agent's socket path is longer than {MAX_SOCKET_PATH} bytes; give a shorter one \
             with --socket"
        )));
    }
    if UnixStream::connect(socket).is_ok() {
        return Err(AppError::InvalidInput(format!(
            "an agent already answers on {}",
            socket.display()
        )));
    }
    match std::fs::symlink_metadata(socket) {
        Ok(meta) => {
            use std::os::unix::fs::FileTypeExt;
            if !meta.file_type().is_socket() {
                return Err(AppError::PathRefused(format!(
                    "{} exists and is not a socket",
                    socket.display()
                )));
            }
            std::fs::remove_file(socket).map_err(AppError::io("removing a stale agent socket"))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(AppError::io("checking the agent socket")(e)),
    }
    // The process umask is 077 (see `owner_only_files`), so the socket is born 0600; set again
    // in case a caller of the library did not narrow it.
    let listener = UnixListener::bind(socket).map_err(AppError::io("binding the agent socket"))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
        .map_err(AppError::io("narrowing the agent socket"))?;
    listener
        .set_nonblocking(true)
        .map_err(AppError::io("setting up the agent socket"))?;
    Ok(listener)
}

/// Serves until `idle` passes without a signature or the key is put away for good (told on
/// `woken`).
fn accept_until_idle(
    listener: &UnixListener,
    woken: &UnixStream,
    shared: &Arc<Shared>,
    idle: Duration,
) -> Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    loop {
        if shared.held().retired.is_some() {
            return Ok(());
        }
        let since = shared
            .last_signature
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed();
        let Some(left) = idle.checked_sub(since).filter(|d| !d.is_zero()) else {
            return Ok(());
        };
        // Woken by a connection or at the latest when the idle time may be up.
        let wait = PollTimeout::from(left.as_millis().clamp(1, u16::MAX as u128) as u16);
        let mut fds = [
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(woken.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, wait) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(AppError::io("waiting on the agent socket")(e.into())),
        }
        match listener.accept() {
            Ok((stream, _)) => admit(stream, shared),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => tracing::warn!(error = %e, "agent: accept failed"),
        }
    }
}

/// Serves one connection on its own thread, if it is the owner's and there is room.
fn admit(mut stream: UnixStream, shared: &Arc<Shared>) {
    if !same_user(&stream) {
        tracing::warn!("agent: a connection from another user, closed");
        return;
    }
    if shared.clients.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS {
        shared.clients.fetch_sub(1, Ordering::AcqRel);
        let busy = Response::Refused(format!("busy: {MAX_CLIENTS} clients already"));
        let _ = stream.write_all(&busy.encode());
        return;
    }
    let shared = Arc::clone(shared);
    let spawned = std::thread::Builder::new()
        .name("agent-client".into())
        .spawn(move || {
            if let Err(e) = serve_client(stream, &shared) {
                tracing::info!(error = %e, "agent: connection closed");
            }
            shared.clients.fetch_sub(1, Ordering::AcqRel);
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "agent: no thread for a connection");
    }
}

fn same_user(stream: &UnixStream) -> bool {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    match getsockopt(stream, PeerCredentials) {
        Ok(creds) => creds.uid() == nix::unistd::geteuid().as_raw(),
        Err(_) => false,
    }
}

/// Answers requests until the client closes, sends something that is not a frame, or stalls.
fn serve_client(mut stream: UnixStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    loop {
        let mut prefix = [0u8; 4];
        match stream.read_exact(&mut prefix) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let request = match proto::frame_len(prefix) {
            Ok(len) => {
                // Bounded by MAX_FRAME before this allocation.
                let mut body = vec![0u8; len];
                stream.read_exact(&mut body)?;
                Request::decode(&body)
            }
            Err(e) => Err(e),
        };
        let response = match request {
            Ok(Request::Hello) => match shared.held().key(&shared.public) {
                // A client is told at once that the key is gone, not at its first signature.
                Ok(_) => Response::Hello {
                    version: proto::VERSION,
                    key: *shared.public.as_bytes(),
                },
                Err(answer) => answer,
            },
            Ok(Request::Sign(message)) => sign(shared, &message),
            Err(e) => {
                // Not this protocol: say why once and close, so nothing is read out of frame.
                stream.write_all(&Response::Refused(e.to_string()).encode())?;
                return Ok(());
            }
        };
        let sent = stream.write_all(&response.encode());
        if let Response::Retired(_) = response {
            // After the answer, so the client hears why before the agent exits.
            let _ = (&shared.wake).write_all(&[1]);
            return sent;
        }
        sent?;
    }
}

/// Signs `message` if the key is still the home's and the message one it signs, under the
/// look that found the key still the home's.
fn sign(shared: &Shared, message: &[u8]) -> Response {
    let mut held = shared.held();
    let key = match held.key(&shared.public) {
        Ok(key) => key,
        Err(answer) => {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            return answer;
        }
    };
    match proto::may_sign(message, &shared.public) {
        Ok(what) => match key.try_sign(message) {
            Ok(signature) => {
                *shared
                    .last_signature
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Instant::now();
                shared.signatures.fetch_add(1, Ordering::Relaxed);
                tracing::info!(signed = %what, "agent signed");
                Response::Signature(signature)
            }
            Err(e) => Response::Refused(e.to_string()),
        },
        Err(refusal) => {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(reason = %refusal, "agent refused to sign");
            Response::Refused(refusal.to_string())
        }
    }
}
