//! A minimal incremental reader of `text/event-stream` bodies: yields the `data` of each event
//! (multi-line data joined with `\n`); comments, `event:`, `id:` and `retry:` lines are skipped.

/// Feed body chunks with [`SseReader::push`]; take whole events with [`SseReader::next_data`].
#[derive(Debug, Default)]
pub struct SseReader {
    buf: Vec<u8>,
    /// Bytes of `buf` already scanned for a line end.
    scanned: usize,
    data: Option<String>,
}

impl SseReader {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The data of the next complete event, if one has fully arrived.
    pub fn next_data(&mut self) -> Option<String> {
        loop {
            let Some(at) = self.buf[self.scanned..].iter().position(|b| *b == b'\n') else {
                self.scanned = self.buf.len();
                return None;
            };
            let nl = at + self.scanned;
            let mut line = &self.buf[..nl];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let done = if line.is_empty() {
                self.data.take()
            } else {
                if let Some(rest) = line.strip_prefix(b"data:") {
                    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
                    let text = String::from_utf8_lossy(rest);
                    match &mut self.data {
                        Some(d) => {
                            d.push('\n');
                            d.push_str(&text);
                        }
                        None => self.data = Some(text.into_owned()),
                    }
                }
                None
            };
            self.buf.drain(..=nl);
            self.scanned = 0;
            if done.is_some() {
                return done;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_events_across_chunks_and_line_endings() {
        let mut r = SseReader::default();
        r.push(b": comment\n\ndata: {\"a\"");
        assert_eq!(r.next_data(), None);
        r.push(b":1}\r\n\r\nevent: x\ndata: one\ndata:two\n\ndata: [DONE]\n");
        assert_eq!(r.next_data().as_deref(), Some("{\"a\":1}"));
        assert_eq!(r.next_data().as_deref(), Some("one\ntwo"));
        assert_eq!(r.next_data(), None);
        r.push(b"\n");
        assert_eq!(r.next_data().as_deref(), Some("[DONE]"));
    }
}
