//! The guest's stdout and stderr, relayed by the host with a cap.
//!
//! Past the cap, further output is discarded and counted, and the guest
//! keeps running: a guest flooding its output cannot fill a disk or a
//! pipe's reader. Writes go straight to the host's own stream, which is
//! line-buffered on stdout, so interactive output appears promptly.

use std::io::{self, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// Which of the host's streams a relay writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The host's stdout.
    Stdout,
    /// The host's stderr.
    Stderr,
}

/// Counts of one relayed stream.
#[derive(Debug, Default)]
pub struct OutputCounts {
    written: AtomicU64,
    dropped: AtomicU64,
}

impl OutputCounts {
    /// Bytes passed through to the host's stream.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Bytes discarded past the cap.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// A guest output stream that relays to one of the host's streams, up to
/// `cap` bytes.
#[derive(Debug, Clone)]
pub struct CappedOutput {
    stream: Stream,
    cap: u64,
    counts: Arc<OutputCounts>,
}

impl CappedOutput {
    /// A relay to `stream` that passes at most `cap` bytes.
    pub fn new(stream: Stream, cap: u64) -> Self {
        Self {
            stream,
            cap,
            counts: Arc::default(),
        }
    }

    /// The relay's counts, shared with every stream it hands out.
    pub fn counts(&self) -> Arc<OutputCounts> {
        self.counts.clone()
    }

    /// Writes what fits under the cap and counts the rest.
    fn relay(&self, bytes: &[u8]) -> io::Result<()> {
        let len = bytes.len() as u64;
        // Reserve room under the cap first, so concurrent writers never
        // pass more than `cap` bytes between them.
        let before = self
            .counts
            .written
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                Some(w.saturating_add(len).min(self.cap.max(w)))
            })
            .unwrap_or_else(|w| w);
        let room = self.cap.saturating_sub(before).min(len) as usize;
        let dropped = len - room as u64;
        if dropped > 0 {
            self.counts.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        if room == 0 {
            return Ok(());
        }
        let written = match self.stream {
            Stream::Stdout => io::stdout().write_all(&bytes[..room]),
            Stream::Stderr => io::stderr().write_all(&bytes[..room]),
        };
        if written.is_err() {
            // Nothing reached the host's stream (a closed pipe, say): the
            // guest is told, and the bytes do not count against the cap.
            self.counts
                .written
                .fetch_sub(room as u64, Ordering::Relaxed);
        }
        written
    }

    fn flush_host(&self) -> io::Result<()> {
        match self.stream {
            Stream::Stdout => io::stdout().flush(),
            Stream::Stderr => io::stderr().flush(),
        }
    }
}

impl IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        match self.stream {
            Stream::Stdout => io::IsTerminal::is_terminal(&io::stdout()),
            Stream::Stderr => io::IsTerminal::is_terminal(&io::stderr()),
        }
    }
}

impl StdoutStream for CappedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// The most a guest may hand over in one write; larger writes are split
/// by the guest's WASI layer.
const WRITE_BUDGET: usize = 64 << 10;

impl OutputStream for CappedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.relay(&bytes)
            .map_err(|err| StreamError::LastOperationFailed(err.into()))
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.flush_host()
            .map_err(|err| StreamError::LastOperationFailed(err.into()))
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_BUDGET)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for CappedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.relay(buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.flush_host())
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
