//! Server-sent events, re-framed. Upstreams split lines across packets (or
//! put several events in one); this turns any chunking into whole events, so
//! what we forward is always valid SSE.

/// One event: its `event:` name (if any) and the joined `data:` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    /// The event as SSE text.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        if let Some(e) = &self.event {
            s.push_str("event: ");
            s.push_str(e);
            s.push('\n');
        }
        for line in self.data.split('\n') {
            s.push_str("data: ");
            s.push_str(line);
            s.push('\n');
        }
        s.push('\n');
        s
    }
}

/// Accumulates bytes and yields whole events.
#[derive(Default)]
pub struct SseParser {
    buf: Vec<u8>,
}

/// Largest event accepted; a peer sending more without a blank line is broken.
pub const MAX_EVENT: usize = 8 * 1024 * 1024;

impl SseParser {
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// True when more than [`MAX_EVENT`] bytes wait without an event ending.
    pub fn overflowed(&self) -> bool {
        self.buf.len() > MAX_EVENT
    }

    /// The next complete event, if any.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            let (end, sep) = find_blank_line(&self.buf)?;
            let block: Vec<u8> = self.buf.drain(..end + sep).take(end).collect();
            let text = String::from_utf8_lossy(&block);
            let mut event = None;
            let mut data: Vec<&str> = Vec::new();
            for line in text.split('\n') {
                let line = line.strip_suffix('\r').unwrap_or(line);
                if line.is_empty() || line.starts_with(':') {
                    continue;
                }
                let (field, value) = match line.find(':') {
                    Some(i) => (
                        &line[..i],
                        line[i + 1..].strip_prefix(' ').unwrap_or(&line[i + 1..]),
                    ),
                    None => (line, ""),
                };
                match field {
                    "data" => data.push(value),
                    "event" => event = Some(value.to_owned()),
                    _ => {}
                }
            }
            // Comment-only blocks (keep-alives) carry nothing to forward.
            if data.is_empty() && event.is_none() {
                continue;
            }
            return Some(SseEvent {
                event,
                data: data.join("\n"),
            });
        }
    }

    /// Whatever is left when the stream ends (an event without its blank line).
    pub fn finish(&mut self) -> Option<SseEvent> {
        if self.buf.iter().all(|b| b.is_ascii_whitespace()) {
            self.buf.clear();
            return None;
        }
        self.buf.extend_from_slice(b"\n\n");
        self.next_event()
    }
}

/// Position and length of the first blank line (`\n\n` or `\r\n\r\n`).
fn find_blank_line(b: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'\n' && b[i + 1] == b'\n' {
            return Some((i, 2));
        }
        if b[i] == b'\r' && i + 3 < b.len() && &b[i..i + 4] == b"\r\n\r\n" {
            return Some((i, 4));
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_any_chunking() {
        let wire = b"data: {\"a\":1}\n\n: keep-alive\n\nevent: x\ndata: line1\ndata: line2\n\ndata: [DONE]\r\n\r\n";
        for size in [1, 2, 5, 13, wire.len()] {
            let mut p = SseParser::default();
            let mut got = Vec::new();
            for c in wire.chunks(size) {
                p.push(c);
                while let Some(e) = p.next_event() {
                    got.push(e);
                }
            }
            assert_eq!(got.len(), 3, "chunk {size}");
            assert_eq!(got[0].data, "{\"a\":1}");
            assert_eq!(got[1].event.as_deref(), Some("x"));
            assert_eq!(got[1].data, "line1\nline2");
            assert_eq!(got[2].data, "[DONE]");
        }
    }

    #[test]
    fn a_trailing_event_without_blank_line_is_kept() {
        let mut p = SseParser::default();
        p.push(b"data: last");
        assert_eq!(p.next_event(), None);
        assert_eq!(p.finish().map(|e| e.data), Some("last".into()));
        assert_eq!(
            SseEvent {
                event: None,
                data: "a\nb".into()
            }
            .encode(),
            "data: a\ndata: b\n\n"
        );
    }
}
