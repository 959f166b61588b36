//! A stream that replays the bytes read while sniffing before the rest.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Wraps a stream whose first bytes were already read (by a
/// [`Detector`](crate::Detector)), and gives them back first, so a protocol
/// driver sees the connection from its first byte.
///
/// Writes go straight to the inner stream. The replayed bytes are held as
/// one [`Bytes`]; [`PeekedStream::take_prefix`] lets a driver that parses
/// from a buffer start from them without a copy.
#[derive(Debug)]
pub struct PeekedStream<S> {
    prefix: Bytes,
    inner: S,
}

impl<S> PeekedStream<S> {
    /// Replays `prefix`, then reads from `inner`.
    pub fn new(inner: S, prefix: Bytes) -> Self {
        PeekedStream { prefix, inner }
    }

    /// The bytes not replayed yet.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// Takes the bytes not replayed yet; reads then go to the inner stream.
    pub fn take_prefix(&mut self) -> Bytes {
        std::mem::take(&mut self.prefix)
    }

    /// The inner stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner stream, mutably. Reading from it directly skips the
    /// bytes not replayed yet.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner stream and the bytes not replayed yet.
    pub fn into_parts(self) -> (S, Bytes) {
        (self.inner, self.prefix)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for PeekedStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for PeekedStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn replay(prefix_len: usize, rest_len: usize, read_size: usize) {
        let data: Vec<u8> = (0..prefix_len + rest_len).map(|i| (i * 7) as u8).collect();
        let (mut client, server) = tokio::io::duplex(4096);
        let rest = data[prefix_len..].to_vec();
        let writer = tokio::spawn(async move {
            client.write_all(&rest).await.unwrap();
            client
        });
        let mut stream = PeekedStream::new(server, Bytes::copy_from_slice(&data[..prefix_len]));
        let mut got = Vec::new();
        let mut chunk = vec![0u8; read_size];
        while got.len() < data.len() {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            // A read never mixes replayed and fresh bytes, so the prefix is
            // replayed exactly and then the stream continues.
            if got.len() < prefix_len {
                assert!(got.len() + n <= prefix_len);
            }
            got.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(got, data);
        drop(writer.await.unwrap());
    }

    #[tokio::test]
    async fn small_and_large_reads() {
        for (prefix, rest, read) in [
            (0, 10, 4),
            (5, 0, 1),
            (5, 10, 1),
            (5, 10, 3),
            (16 * 1024, 100, 7),
            (16 * 1024, 64 * 1024, 64 * 1024),
            (3, 64 * 1024, 8192),
        ] {
            replay(prefix, rest, read).await;
        }
    }

    #[tokio::test]
    async fn writes_pass_through_and_parts_come_back() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut stream = PeekedStream::new(server, Bytes::from_static(b"abc"));
        stream.write_all(b"pong").await.unwrap();
        let mut got = [0u8; 4];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"pong");
        let mut one = [0u8; 1];
        stream.read_exact(&mut one).await.unwrap();
        assert_eq!(stream.prefix(), b"bc");
        let (_inner, rest) = stream.into_parts();
        assert_eq!(&rest[..], b"bc");
    }
}
