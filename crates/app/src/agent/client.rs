//! The client side: a [`Signer`] that asks the agent, one connection per request (a command
//! may go minutes between signatures, importing images, and the agent drops stalled clients).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use countersign_ledger::{PublicKey, SignError, Signer};

use super::proto::{self, Request, Response};
use super::{unavailable, CLIENT_TIMEOUT};
use crate::error::{AppError, Result};

/// The agent on one socket, holding one known key.
#[derive(Debug)]
pub(crate) struct AgentSigner {
    socket: PathBuf,
    key: PublicKey,
}

impl AgentSigner {
    /// Asks the agent on `socket` which key it holds, and refuses one that is not `expected`.
    pub(crate) fn connect(socket: &Path, expected: &PublicKey) -> Result<AgentSigner> {
        let answer = ask(socket, &Request::Hello).map_err(|e| unavailable(socket, e))?;
        if let Response::Retired(why) = answer {
            return Err(AppError::AgentKeyRetired(retired(socket, &why)));
        }
        let Response::Hello { version, key } = answer else {
            return Err(unavailable(socket, format!("unexpected answer {answer:?}")));
        };
        if version != proto::VERSION {
            return Err(unavailable(
                socket,
                format!("protocol version {version}, not {}", proto::VERSION),
            ));
        }
        if key != *expected.as_bytes() {
            return Err(unavailable(
                socket,
                format!(
                    "it holds key {}, and this home signs as {expected}",
                    hex::encode(key)
                ),
            ));
        }
        Ok(AgentSigner {
            socket: socket.to_path_buf(),
            key: *expected,
        })
    }
}

/// The words of an agent's answer that it put its key away.
fn retired(socket: &Path, why: &str) -> String {
    format!(
        "the signing agent put its key away and stopped (at {}): {why}",
        socket.display()
    )
}

/// One request and its answer on a fresh connection.
fn ask(socket: &Path, request: &Request) -> std::result::Result<Response, String> {
    let mut stream = UnixStream::connect(socket).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(CLIENT_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(CLIENT_TIMEOUT)))
        .and_then(|()| stream.write_all(&request.encode()))
        .map_err(|e| e.to_string())?;
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).map_err(|e| e.to_string())?;
    let len = proto::frame_len(prefix).map_err(|e| e.to_string())?;
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).map_err(|e| e.to_string())?;
    Response::decode(request, &body).map_err(|e| e.to_string())
}

impl Signer for AgentSigner {
    fn public(&self) -> PublicKey {
        self.key
    }

    fn try_sign(&self, message: &[u8]) -> std::result::Result<[u8; 64], SignError> {
        if message.len() > proto::MAX_MESSAGE {
            return Err(SignError::Failed(format!(
                "a message of {} bytes is longer than the agent signs",
                message.len()
            )));
        }
        let request = Request::Sign(message.to_vec());
        let at = self.socket.display();
        match ask(&self.socket, &request) {
            // Bytes from another process: used only if they are this key's signature.
            Ok(Response::Signature(s)) if self.key.verifies(message, &s) => Ok(s),
            Ok(Response::Signature(_)) => Err(SignError::Failed(format!(
                "the agent at {at} answered with a signature that does not verify"
            ))),
            Ok(Response::Refused(why)) => Err(SignError::Failed(format!(
                "the agent at {at} refused: {why}"
            ))),
            Ok(Response::Retired(why)) => Err(SignError::KeyPutAway(retired(&self.socket, &why))),
            Ok(other) => Err(SignError::Failed(format!(
                "the agent at {at} answered {other:?}"
            ))),
            Err(e) => Err(SignError::Failed(format!("the agent at {at}: {e}"))),
        }
    }
}
