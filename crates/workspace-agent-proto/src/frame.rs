//! Framing: turning a byte stream into frames and back.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Largest payload a frame may carry. Bigger payloads are split by senders;
/// a peer announcing more is broken and is disconnected.
pub const MAX_FRAME: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Json = 0,
    Data = 1,
    Eof = 2,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    pub channel: u32,
    pub payload: Bytes,
}

impl Frame {
    pub fn json(value: &impl serde::Serialize) -> Frame {
        Frame {
            kind: FrameKind::Json,
            channel: 0,
            // Our message types always serialize.
            payload: Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
        }
    }

    pub fn data(channel: u32, payload: impl Into<Bytes>) -> Frame {
        Frame {
            kind: FrameKind::Data,
            channel,
            payload: payload.into(),
        }
    }

    pub fn eof(channel: u32) -> Frame {
        Frame {
            kind: FrameKind::Eof,
            channel,
            payload: Bytes::new(),
        }
    }

    /// The end of a channel's data because the sender gave up: whatever was
    /// being written must be discarded, not committed.
    pub fn abort(channel: u32) -> Frame {
        Frame {
            kind: FrameKind::Eof,
            channel,
            payload: Bytes::from_static(b"abort"),
        }
    }

    pub fn is_abort(&self) -> bool {
        self.kind == FrameKind::Eof && !self.payload.is_empty()
    }

    /// Appends the encoded frame to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(9 + self.payload.len());
        out.put_u32((5 + self.payload.len()) as u32);
        out.put_u8(self.kind as u8);
        out.put_u32(self.channel);
        out.put_slice(&self.payload);
    }

    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::new();
        self.encode(&mut b);
        b.freeze()
    }
}

/// Incremental decoder: feed it bytes as they arrive (chunks may split or
/// join frames anywhere) and take whole frames out.
#[derive(Default)]
pub struct FrameDecoder {
    buf: BytesMut,
}

/// The stream is not speaking this protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError(pub String);

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad frame: {}", self.0)
    }
}

impl std::error::Error for FrameError {}

impl FrameDecoder {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// What has arrived and is not yet a frame: when the stream turns out
    /// not to speak the protocol, it is usually an error text from the
    /// engine that is worth showing.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// The next complete frame, if one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if !(5..=MAX_FRAME + 5).contains(&len) {
            return Err(FrameError(format!("length {len} out of range")));
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        self.buf.advance(4);
        let mut body = self.buf.split_to(len);
        let kind = match body.get_u8() {
            0 => FrameKind::Json,
            1 => FrameKind::Data,
            2 => FrameKind::Eof,
            k => return Err(FrameError(format!("unknown kind {k}"))),
        };
        let channel = body.get_u32();
        Ok(Some(Frame {
            kind,
            channel,
            payload: body.freeze(),
        }))
    }
}

/// Writes queued frames until the queue closes or the writer fails,
/// batching whatever is already queued into one write (a keystroke goes out
/// at once; a burst of output goes out in few syscalls). Both ends of the
/// protocol use it.
pub async fn write_frames<W>(mut rx: tokio::sync::mpsc::Receiver<Frame>, mut w: W)
where
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt;
    let mut buf = BytesMut::with_capacity(64 * 1024);
    while let Some(f) = rx.recv().await {
        f.encode(&mut buf);
        while buf.len() < 256 * 1024 {
            match rx.try_recv() {
                Ok(f) => f.encode(&mut buf),
                Err(_) => break,
            }
        }
        if w.write_all(&buf).await.is_err() || w.flush().await.is_err() {
            break;
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_split() {
        let frames = vec![
            Frame::data(7, Bytes::from_static(b"hello")),
            Frame::eof(7),
            Frame::json(&serde_json::json!({"a": 1})),
            Frame::data(1, Bytes::from(vec![0u8; 70_000])),
        ];
        let mut wire = BytesMut::new();
        for f in &frames {
            f.encode(&mut wire);
        }
        for chunk in [1usize, 3, 4096, wire.len()] {
            let mut d = FrameDecoder::default();
            let mut got = Vec::new();
            for piece in wire.chunks(chunk) {
                d.push(piece);
                while let Some(f) = d.next_frame().expect("valid") {
                    got.push(f);
                }
            }
            assert_eq!(got, frames, "chunk size {chunk}");
        }
    }

    #[test]
    fn garbage_is_refused() {
        let mut d = FrameDecoder::default();
        d.push(&[0xff, 0xff, 0xff, 0xff, 0]);
        assert!(d.next_frame().is_err());
        let mut d = FrameDecoder::default();
        d.push(&[0, 0, 0, 5, 9, 0, 0, 0, 0]);
        assert!(d.next_frame().is_err());
    }
}
