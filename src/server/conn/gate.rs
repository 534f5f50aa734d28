//! The gate in front of hyper on each connection: hands hyper a request head only once it is complete and
//! within our limits, follows the body to find the next head, and closes connections that idle or stall.
//!
//! hyper's own timer and limits answer with an empty body or not at all; here each refusal is the documented
//! JSON error (written when hyper shuts the connection down), and the deadlines see what hyper cannot: a head
//! held back by us, a connection slot needed by someone else.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::Slots;
use super::framing::{self, Framing, HeadLimits, Refusal};

/// The deadlines and limits a gate enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GateConfig {
    /// Limits on each request head.
    pub(crate) head: HeadLimits,
    /// Longest wait for a complete head: from accept for the first request, from its first byte for later ones.
    pub(crate) header_timeout: Duration,
    /// Longest wait for the first byte of the next request once the previous one was answered.
    pub(crate) idle_timeout: Duration,
    /// Longest time a request body may take to arrive (the signed-request extractor answers 408 a moment
    /// earlier; this closes what no handler reads).
    pub(crate) body_timeout: Duration,
    /// When connection slots run short, how long a connection may idle or hold an incomplete head.
    pub(crate) shed_after: Duration,
}

thread_local! {
    /// Where a gate reads from its socket, one per thread and zeroed once: a fresh zeroed 16 KiB array per
    /// read cost a `memset` of 16 KiB per request (3-4 % of the server's instructions, callgrind), and one per
    /// connection would let idle connections hold 16 KiB each.
    static READ_CHUNK: std::cell::Cell<Box<[u8]>> = std::cell::Cell::default();
}

const READ_CHUNK_LEN: usize = 16 * 1024;

/// Runs `read` over this thread's read chunk (taken out while `read` runs, put back after); over a fresh one
/// the first time, or if it is out already or the thread is ending.
fn with_read_chunk<T>(read: impl FnOnce(&mut [u8]) -> T) -> T {
    let mut chunk = READ_CHUNK
        .try_with(std::cell::Cell::take)
        .ok()
        .filter(|c| c.len() == READ_CHUNK_LEN)
        .unwrap_or_else(|| vec![0; READ_CHUNK_LEN].into_boxed_slice());
    let result = read(&mut chunk);
    let _ = READ_CHUNK.try_with(|cell| cell.set(chunk));
    result
}

/// Whether `bytes` hold the empty line that ends a head: a line feed followed by another, or by CR LF. One
/// pass that stops at the first: searching for "\n\n" first read a whole 12 KiB body that came in with its
/// head (none there) before finding the head's "\n\r\n", 3.6% of a registration's instructions (callgrind).
fn head_ends(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b'\n' && matches!(bytes.get(i + 1..), Some([b'\n', ..] | [b'\r', b'\n', ..]))
    })
}

/// How often a waiting gate re-checks its deadlines, the connection's in-flight requests and slot pressure.
const TICK: Duration = Duration::from_millis(250);

/// Requests on one connection that hyper handed to the router and whose answer is not fully sent.
#[derive(Debug, Default)]
pub(super) struct InFlight(AtomicUsize);

impl InFlight {
    /// Counts a request until the returned guard is dropped.
    pub(super) fn enter(self: &Arc<Self>) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(self.clone())
    }

    fn busy(&self) -> bool {
        self.0.load(Ordering::Acquire) > 0
    }
}

/// One request in flight; see [`InFlight::enter`].
pub(super) struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connection's stream, seen by hyper through the gate.
pub(super) struct Gate<IO> {
    io: IO,
    config: GateConfig,
    slots: Arc<Slots>,
    in_flight: Arc<InFlight>,
    /// Bytes read from the client; those before `start` are handed to hyper already, and the `release` after
    /// it are checked. Handing bytes over moves `start` instead of shifting the rest to the front (`drain`
    /// did, at every read hyper had no room for all of them); the front is reclaimed when it is all handed
    /// over, or before more is read.
    buf: Vec<u8>,
    start: usize,
    release: usize,
    /// What `buf` (after the released bytes) starts with.
    framing: Framing,
    /// Since when we wait for the current head (or, with nothing of it received, for the next request).
    waiting_since: Instant,
    /// When the current head's first byte came, if it did.
    head_started: Option<Instant>,
    /// How much of the current head was searched for its end already.
    head_scanned: usize,
    /// When the current body began.
    body_started: Instant,
    /// The last time hyper wrote to the client.
    last_write: Instant,
    first_request: bool,
    sleep: Pin<Box<Sleep>>,
    /// Refused or timed out: what to write before closing (if anything), and how much of it is written.
    refusal: Option<(Vec<u8>, usize)>,
    /// hyper sees end of stream from now on.
    closed: bool,
    client_eof: bool,
}

impl<IO> Gate<IO> {
    pub(super) fn new(
        io: IO,
        config: GateConfig,
        slots: Arc<Slots>,
        in_flight: Arc<InFlight>,
    ) -> Self {
        let now = Instant::now();
        Gate {
            io,
            config,
            slots,
            in_flight,
            buf: Vec::new(),
            start: 0,
            release: 0,
            framing: Framing::Head,
            waiting_since: now,
            head_started: None,
            head_scanned: 0,
            body_started: now,
            last_write: now,
            first_request: true,
            sleep: Box::pin(tokio::time::sleep(TICK)),
            refusal: None,
            closed: false,
            client_eof: false,
        }
    }

    /// Checks the unreleased bytes: how many may go to hyper now, or a refusal.
    fn advance(&mut self) -> Result<usize, Refusal> {
        let pending = self
            .buf
            .get(self.start.saturating_add(self.release)..)
            .unwrap_or_default();
        if pending.is_empty() {
            return Ok(0);
        }
        match self.framing {
            Framing::Opaque => Ok(pending.len()),
            Framing::Body(left) => {
                let take = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(pending.len());
                let left = left - take as u64;
                if left == 0 {
                    self.await_head();
                } else {
                    self.framing = Framing::Body(left);
                }
                Ok(take)
            }
            Framing::Chunked(chunk) => {
                let (used, next) = framing::follow_chunked(chunk, pending);
                if next == Framing::Head {
                    self.await_head();
                } else {
                    self.framing = next;
                }
                Ok(used)
            }
            Framing::Head => {
                if self.head_started.is_none() {
                    self.head_started = Some(Instant::now());
                }
                // Parse only once the empty line that ends a head is in; search only the new bytes for it.
                let from = self.head_scanned.saturating_sub(3);
                let ended = pending.get(from..).is_some_and(head_ends);
                self.head_scanned = pending.len();
                if !ended {
                    return framing::check_partial(pending, &self.config.head).map(|()| 0);
                }
                match framing::check_head(pending, &self.config.head)? {
                    None => Ok(0),
                    Some((len, next)) => {
                        self.first_request = false;
                        self.head_started = None;
                        self.head_scanned = 0;
                        self.body_started = Instant::now();
                        self.framing = next;
                        if next == Framing::Head {
                            self.waiting_since = Instant::now();
                        }
                        Ok(len)
                    }
                }
            }
        }
    }

    fn await_head(&mut self) {
        self.framing = Framing::Head;
        self.waiting_since = Instant::now();
    }

    /// Ends the stream for hyper; with a refusal, its JSON answer is written when hyper shuts down.
    fn close(&mut self, refusal: Option<Refusal>) {
        if let Some(refusal) = refusal {
            tracing::debug!(code = refusal.code, "connection refused before routing");
            self.refusal = Some((refusal.response(), 0));
        }
        self.closed = true;
        self.buf = Vec::new();
        self.start = 0;
        self.release = 0;
    }

    /// The deadline of what we wait for now, and what to do when it passes. `None`: no deadline (a request is
    /// in flight, or the body is hyper's to time out).
    fn deadline(&self) -> Option<(Instant, Option<Refusal>)> {
        let timeout = Refusal::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request did not arrive in time",
        );
        match self.framing {
            Framing::Body(_) | Framing::Chunked(_) | Framing::Opaque => Some((
                self.body_started + self.config.body_timeout + Duration::from_secs(1),
                None,
            )),
            Framing::Head if self.in_flight.busy() => None,
            Framing::Head => {
                let partial = self.buf.len() > self.start;
                let since = self
                    .head_started
                    .unwrap_or(self.waiting_since)
                    .max(self.last_write);
                let mut deadline = if self.first_request {
                    self.waiting_since + self.config.header_timeout
                } else if partial {
                    since + self.config.header_timeout
                } else {
                    self.waiting_since.max(self.last_write) + self.config.idle_timeout
                };
                if self.slots.under_pressure() {
                    deadline = deadline.min(since + self.config.shed_after);
                }
                Some((deadline, partial.then_some(timeout)))
            }
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for Gate<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.release > 0 {
                let n = this.release.min(out.remaining());
                let end = this.start.saturating_add(n);
                out.put_slice(this.buf.get(this.start..end).unwrap_or_default());
                this.start = end;
                this.release -= n;
                if this.start >= this.buf.len() {
                    this.buf.clear();
                    this.start = 0;
                    if this.buf.capacity() > 64 * 1024 {
                        this.buf = Vec::new();
                    }
                }
                return Poll::Ready(Ok(()));
            }
            if this.closed {
                // An end of stream in the middle of a request makes hyper drop its answer: wait for it.
                if this.in_flight.busy() {
                    this.sleep.as_mut().reset(Instant::now() + TICK);
                    ready!(this.sleep.as_mut().poll(cx));
                    continue;
                }
                return Poll::Ready(Ok(()));
            }
            match this.advance() {
                Ok(0) => {}
                Ok(n) => {
                    this.release = n;
                    continue;
                }
                Err(refusal) => {
                    this.close(Some(refusal));
                    continue;
                }
            }
            if this.client_eof {
                this.close(None);
                continue;
            }
            let polled = with_read_chunk(|chunk| {
                let mut read = ReadBuf::new(chunk);
                let polled = Pin::new(&mut this.io).poll_read(cx, &mut read);
                if let Poll::Ready(Ok(())) = polled {
                    this.client_eof = read.filled().is_empty();
                    // Reclaim what hyper took before growing the buffer.
                    this.buf.drain(..this.start);
                    this.start = 0;
                    this.buf.extend_from_slice(read.filled());
                }
                polled
            });
            match polled {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    let now = Instant::now();
                    match this.deadline() {
                        Some((deadline, refusal)) if deadline <= now => {
                            if matches!(this.framing, Framing::Head) {
                                this.close(refusal);
                                continue;
                            }
                            return Poll::Ready(Err(io::Error::new(
                                io::ErrorKind::TimedOut,
                                "request body timed out",
                            )));
                        }
                        Some((deadline, _)) => this.sleep.as_mut().reset(deadline.min(now + TICK)),
                        None => this.sleep.as_mut().reset(now + TICK),
                    }
                    ready!(this.sleep.as_mut().poll(cx));
                }
            }
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Gate<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.last_write = Instant::now();
        Pin::new(&mut this.io).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.last_write = Instant::now();
        Pin::new(&mut this.io).poll_write_vectored(cx, data)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // The refusal goes out after whatever hyper answered before it, then the connection closes.
        while let Some((answer, written)) = this.refusal.as_mut() {
            let rest = answer.get(*written..).unwrap_or_default();
            if rest.is_empty() {
                this.refusal = None;
                break;
            }
            match ready!(Pin::new(&mut this.io).poll_write(cx, rest)) {
                Ok(0) | Err(_) => this.refusal = None,
                Ok(n) => *written += n,
            }
        }
        ready!(Pin::new(&mut this.io).poll_flush(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::head_ends;

    #[test]
    fn a_head_ends_at_the_first_empty_line_of_either_kind() {
        assert!(head_ends(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n{}"));
        assert!(head_ends(b"GET / HTTP/1.1\nHost: a\n\nbody"));
        assert!(head_ends(b"\n\r\n"));
        assert!(!head_ends(b"GET / HTTP/1.1\r\nHost: a\r\n"));
        assert!(!head_ends(b"GET / HTTP/1.1\r\nHost: a\r\n\r"));
        assert!(!head_ends(b"\n\r"));
        assert!(!head_ends(b""));
    }
}
