//! What the live-meeting tools (`meet-load`, `wake-latency`) share: the realtime socket's
//! handshake and reads, and 16-bit mono WAV files of speech to stream.

use crate::creds::{Cred, appsync_request};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text message of `ws` as JSON, keep-alives (`ka`) skipped.
pub async fn next_text(ws: &mut Ws, limit: Duration) -> Result<Value, String> {
    loop {
        match tokio::time::timeout(limit, ws.next()).await {
            Err(_) => return Err("timeout".into()),
            Ok(None) => return Err("closed".into()),
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str()).map_err(|e| e.to_string())?;
                if v["type"] != "ka" {
                    return Ok(v);
                }
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// `/event/realtime` opened as `c` and acknowledged (`connection_init` → `connection_ack`).
pub async fn realtime(host: &str, c: &Cred) -> Result<Ws, String> {
    let (mut ws, _) = tokio_tungstenite::connect_async(appsync_request(host, c)?).await.map_err(|e| e.to_string())?;
    ws.send(Message::Text(json!({"type": "connection_init"}).to_string().into())).await.map_err(|e| e.to_string())?;
    let ack = next_text(&mut ws, Duration::from_secs(30)).await?;
    if ack["type"] != "connection_ack" {
        return Err(format!("realtime: {ack}"));
    }
    Ok(ws)
}

/// Subscribes `ws` to `channel` (a meeting's `/meetings/{key}`) and waits for the success.
pub async fn subscribe(ws: &mut Ws, channel: &str) -> Result<(), String> {
    ws.send(Message::Text(json!({"type": "subscribe", "id": "m", "channel": channel}).to_string().into()))
        .await
        .map_err(|e| e.to_string())?;
    let ok = next_text(ws, Duration::from_secs(30)).await?;
    if ok["type"] != "subscribe_success" {
        return Err(format!("subscribe: {ok}"));
    }
    Ok(())
}

/// The samples of a 16-bit mono PCM WAV file at `rate` (the chunks walked, not a fixed header).
pub fn read_wav(path: &std::path::Path, rate: u32) -> Result<Vec<i16>, String> {
    let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    wav_samples(&b, rate).map_err(|why| format!("{}: {why}", path.display()))
}

fn wav_samples(b: &[u8], rate: u32) -> Result<Vec<i16>, String> {
    if b.len() < 12 || &b[..4] != b"RIFF" || &b[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE file".into());
    }
    let (mut at, mut format_ok) = (12, false);
    while at + 8 <= b.len() {
        let len = u32::from_le_bytes([b[at + 4], b[at + 5], b[at + 6], b[at + 7]]) as usize;
        let body = b.get(at + 8..(at + 8 + len).min(b.len())).ok_or("truncated")?;
        match &b[at..at + 4] {
            b"fmt " if body.len() >= 16 => {
                let channels = u16::from_le_bytes([body[2], body[3]]);
                let file_rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
                let bits = u16::from_le_bytes([body[14], body[15]]);
                if channels != 1 || bits != 16 || file_rate != rate {
                    return Err(format!("must be 16-bit mono at {rate} Hz (sox in.wav -r {rate} -c 1 -b 16 out.wav)"));
                }
                format_ok = true;
            }
            b"data" if format_ok => {
                return Ok(body.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect());
            }
            _ => {}
        }
        at += 8 + len + (len & 1);
    }
    Err("no fmt and data chunks".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut b = b"RIFF\0\0\0\0WAVE".to_vec();
        b.extend_from_slice(b"LIST\x03\0\0\0abc\0"); // an odd-sized chunk, padded
        b.extend_from_slice(b"fmt \x10\0\0\0\x01\0");
        b.extend_from_slice(&channels.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * 2).to_le_bytes());
        b.extend_from_slice(b"\x02\0\x10\0data");
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&data);
        b
    }

    #[test]
    fn wav_chunks_are_walked_and_the_format_checked() {
        assert_eq!(wav_samples(&wav(16_000, 1, &[1, -2, 300]), 16_000), Ok(vec![1, -2, 300]));
        assert!(wav_samples(&wav(8_000, 1, &[1]), 16_000).unwrap_err().contains("16-bit mono at 16000"));
        assert!(wav_samples(&wav(16_000, 2, &[1, 2]), 16_000).is_err());
        assert!(wav_samples(b"RIFX", 16_000).is_err());
    }
}
