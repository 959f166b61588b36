//! The connection's outgoing bytes: frames encoded into one buffer, with
//! large DATA payloads kept as the `Bytes` they came in (written with a
//! vectored write, never copied).

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

/// Payloads at least this large are queued by reference.
const SHARE_FROM: usize = 1024;

/// Bytes waiting for the socket, in order.
#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    chunks: VecDeque<Bytes>,
    tail: BytesMut,
    len: usize,
}

impl WriteQueue {
    /// The buffer to encode the next frame into; call [`Self::commit`]
    /// after writing into it.
    pub(crate) fn tail(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Accounts for bytes encoded into [`Self::tail`] since the last call.
    pub(crate) fn commit(&mut self, before: usize) {
        self.len += self.tail.len() - before;
    }

    /// Appends a payload: copied when small, queued by reference when
    /// large.
    pub(crate) fn push(&mut self, data: Bytes) {
        self.len += data.len();
        if data.len() < SHARE_FROM {
            self.tail.extend_from_slice(&data);
            return;
        }
        if !self.tail.is_empty() {
            self.chunks.push_back(self.tail.split().freeze());
        }
        self.chunks.push_back(data);
    }

    /// Bytes queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Moves everything queued to the end of `dst` (the writer's list).
    pub(crate) fn drain_into(&mut self, dst: &mut VecDeque<Bytes>) {
        dst.extend(self.chunks.drain(..));
        if !self.tail.is_empty() {
            dst.push_back(self.tail.split().freeze());
        }
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_kept_and_large_payloads_shared() {
        let mut q = WriteQueue::default();
        let before = q.tail().len();
        q.tail().extend_from_slice(b"head1");
        q.commit(before);
        let big = Bytes::from(vec![1u8; SHARE_FROM]);
        q.push(big.clone());
        q.push(Bytes::from_static(b"small"));
        assert_eq!(q.len(), 5 + SHARE_FROM + 5);
        let mut out = VecDeque::new();
        q.drain_into(&mut out);
        assert_eq!(q.len(), 0);
        assert_eq!(out.len(), 3);
        assert_eq!(&out[0][..], b"head1");
        assert_eq!(out[1].as_ptr(), big.as_ptr());
        assert_eq!(&out[2][..], b"small");
    }
}
