//! Framing of `/countersign/sync/5` on a libp2p stream: a u32 length, refused beyond its bound
//! before any buffer is sized for it, then one message.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;

use crate::protocol::{Envelope, Request, Response, MAX_ENVELOPE, MAX_MESSAGE};

/// Requests are small (a reconciliation step, 16 384 ids, a version vector; an envelope of at
/// most [`MAX_ENVELOPE`] bytes around each): a tighter bound than responses.
pub const MAX_REQUEST: usize = 640 * 1024;

// The largest request bodies (a reconciliation step, a fetch by id) with a delegation fit.
const _: () = assert!(
    1 + 32 + 8 + 32 + 4 + crate::protocol::MAX_RECONCILE + MAX_ENVELOPE <= MAX_REQUEST
        && 1 + 32 + 2 + 32 * crate::protocol::MAX_FETCH_IDS + MAX_ENVELOPE <= MAX_REQUEST
);

/// Bytes of sync messages (frames with their length prefix) this process has read and
/// written, for benchmarks and status: what reconciliation costs on the wire, before the
/// transport's own framing and encryption.
static READ: AtomicU64 = AtomicU64::new(0);
static WRITTEN: AtomicU64 = AtomicU64::new(0);

/// (read, written) bytes of sync messages so far in this process.
pub fn bytes_on_wire() -> (u64, u64) {
    (
        READ.load(Ordering::Relaxed),
        WRITTEN.load(Ordering::Relaxed),
    )
}

#[derive(Debug, Clone, Default)]
pub struct SyncCodec;

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a {len}-byte message exceeds the limit of {max}"),
        ));
    }
    // Grown as bytes arrive, never sized by the peer's claim alone.
    let mut buf = Vec::new();
    io.take(len as u64).read_to_end(&mut buf).await?;
    if buf.len() != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    READ.fetch_add(4 + len as u64, Ordering::Relaxed);
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, body: &[u8]) -> io::Result<()> {
    let len =
        u32::try_from(body.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(body).await?;
    WRITTEN.fetch_add(4 + body.len() as u64, Ordering::Relaxed);
    io.close().await
}

fn invalid(e: crate::protocol::DecodeError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl libp2p::request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = Envelope<Request>;
    type Response = Envelope<Response>;

    async fn read_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Envelope<Request>>
    where
        T: AsyncRead + Unpin + Send,
    {
        Envelope::decode(&read_frame(io, MAX_REQUEST).await?).map_err(invalid)
    }

    async fn read_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Envelope<Response>>
    where
        T: AsyncRead + Unpin + Send,
    {
        Envelope::decode(&read_frame(io, MAX_MESSAGE).await?).map_err(invalid)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Envelope<Request>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &req.encode()).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Envelope<Response>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res.encode()).await
    }
}
