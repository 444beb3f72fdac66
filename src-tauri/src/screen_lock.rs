//! Locks the key when the screen locks: the desktop's screensaver says so on the session bus
//! (`ActiveChanged(true)` of `org.freedesktop.ScreenSaver`, and GNOME's, MATE's and Cinnamon's
//! own names for it), and logind on the system bus (`Lock` of this process's session, and
//! `PrepareForSleep(true)` before a suspend). Whichever bus is missing is simply not watched: a
//! workstation without a screensaver still has the idle lock.
//!
//! D-Bus through the `dbus` crate (libdbus), which the window toolkit already links.

use std::sync::mpsc;
use std::time::Duration;

use dbus::blocking::Connection;
use dbus::message::MatchRule;

/// The interfaces whose `ActiveChanged(true)` means the screen locked.
const SCREENSAVERS: &[&str] = &[
    "org.freedesktop.ScreenSaver",
    "org.gnome.ScreenSaver",
    "org.mate.ScreenSaver",
    "org.cinnamon.ScreenSaver",
];

/// What locked the screen, for the log: the screensaver's interface, or logind's reason.
pub type Why = &'static str;

/// Watches the session bus and the system bus on threads of their own and calls `on_lock` each
/// time the screen locks or the machine is about to sleep.
pub fn watch(on_lock: impl Fn(Why) + Send + Sync + 'static) {
    let on_lock = std::sync::Arc::new(on_lock);
    let session = std::sync::Arc::clone(&on_lock);
    spawn("screen-lock-session", move || {
        let conn = Connection::new_session().map_err(|e| e.to_string())?;
        serve_screensaver(conn, move |why| session(why), None)
    });
    spawn("screen-lock-logind", move || {
        let conn = Connection::new_system().map_err(|e| e.to_string())?;
        serve_logind(conn, move |why| on_lock(why))
    });
}

fn spawn(name: &str, body: impl FnOnce() -> Result<(), String> + Send + 'static) {
    let name_owned = name.to_string();
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            if let Err(e) = body() {
                tracing::info!(watch = %name_owned, error = %e, "screen lock not watched");
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no thread to watch the screen lock");
    }
}

/// Watches the screensavers' `ActiveChanged` on the bus at `address` (a test's private bus);
/// `ready` is told once the match rules are in place, so a signal sent after it is seen.
pub fn watch_screensaver_at(
    address: &str,
    on_lock: impl Fn(Why) + Send + Sync + 'static,
    ready: mpsc::Sender<()>,
) {
    let address = address.to_string();
    spawn("screen-lock-test-bus", move || {
        let mut channel =
            dbus::channel::Channel::open_private(&address).map_err(|e| e.to_string())?;
        channel.register().map_err(|e| e.to_string())?;
        serve_screensaver(Connection::from(channel), on_lock, Some(ready))
    });
}

fn serve_screensaver(
    conn: Connection,
    on_lock: impl Fn(Why) + Send + Sync + 'static,
    ready: Option<mpsc::Sender<()>>,
) -> Result<(), String> {
    let on_lock = std::sync::Arc::new(on_lock);
    for iface in SCREENSAVERS {
        let on_lock = std::sync::Arc::clone(&on_lock);
        let rule = MatchRule::new_signal(*iface, "ActiveChanged");
        conn.add_match(rule, move |(active,): (bool,), _, _| {
            if active {
                on_lock(iface);
            }
            true
        })
        .map_err(|e| e.to_string())?;
    }
    if let Some(ready) = ready {
        let _ = ready.send(());
    }
    loop {
        conn.process(Duration::from_secs(3600))
            .map_err(|e| e.to_string())?;
    }
}

fn serve_logind(
    conn: Connection,
    on_lock: impl Fn(Why) + Send + Sync + 'static,
) -> Result<(), String> {
    // This process's session, so that another user's lock on a shared machine does not count.
    let manager = conn.with_proxy(
        "org.freedesktop.login1",
        "/org/freedesktop/login1",
        Duration::from_secs(5),
    );
    let (session,): (dbus::Path<'static>,) = manager
        .method_call(
            "org.freedesktop.login1.Manager",
            "GetSessionByPID",
            (std::process::id(),),
        )
        .map_err(|e| e.to_string())?;
    let on_lock = std::sync::Arc::new(on_lock);
    let locked = std::sync::Arc::clone(&on_lock);
    let rule = MatchRule::new_signal("org.freedesktop.login1.Session", "Lock").with_path(session);
    conn.add_match(rule, move |(): (), _, _| {
        locked("session locked");
        true
    })
    .map_err(|e| e.to_string())?;
    let rule = MatchRule::new_signal("org.freedesktop.login1.Manager", "PrepareForSleep");
    conn.add_match(rule, move |(sleeping,): (bool,), _, _| {
        if sleeping {
            on_lock("going to sleep");
        }
        true
    })
    .map_err(|e| e.to_string())?;
    loop {
        conn.process(Duration::from_secs(3600))
            .map_err(|e| e.to_string())?;
    }
}
