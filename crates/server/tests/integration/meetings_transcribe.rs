//! `speech.engine = "transcribe"` through the real server: a two-channel meeting streamed with
//! LMA's protocol over `/api/v1/ws`, each channel sent by the real AWS SDK as its own
//! Transcribe stream to testkit's fake (which decodes the signed event-stream audio and answers
//! with scripted partial and final results timed by the audio it received); the live channel
//! shows each partial replaced by its final under one segment id, and the stored transcript
//! holds the finals with channel, speaker and times.

use crate::common::*;
use crate::realtime::{init, next, send};
use futures::SinkExt;
use rampart_testkit::fake_transcribe::{FakeTranscribe, Knobs, Utterance};
use serde_json::{Value, json};
use std::collections::HashMap;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

async fn server(fake: &FakeTranscribe) -> TestServer {
    TestServer::start_with(&[
        ("speech.engine", json!("transcribe")),
        ("speech.transcribe_region", json!("eu-west-1")),
        ("speech.transcribe_endpoint", json!(fake.base_url)),
        ("speech.transcribe_access_key_id", json!("AKIDEXAMPLE")),
        ("speech.transcribe_secret_access_key", json!("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")),
        ("meetings.final_timeout", json!("10s")),
    ])
    .await
}

/// Channel 0 (the meeting) then channel 1 (the microphone): streams open in that order.
fn knobs() -> Knobs {
    Knobs {
        scripts: vec![
            vec![
                Utterance::new("welcome to the weekly planning meeting", 0.2, 1.2),
                Utterance::new("first the status of the portal", 1.6, 2.6),
            ],
            vec![Utterance::new("thanks I have the test results", 0.4, 1.4)],
        ],
        partials: 2,
        ..Knobs::default()
    }
}

/// `secs` of two-channel 16 kHz audio as 100 ms frames (a different tone per channel).
fn frames(secs: f64) -> Vec<Vec<u8>> {
    let n = (16_000.0 * secs) as usize;
    let mut pcm = Vec::with_capacity(n * 4);
    for i in 0..n {
        pcm.extend_from_slice(&(((i as f32 * 0.05).sin() * 3000.0) as i16).to_le_bytes());
        pcm.extend_from_slice(&(((i as f32 * 0.11).sin() * 3000.0) as i16).to_le_bytes());
    }
    pcm.chunks(1_600 * 4).map(<[u8]>::to_vec).collect()
}

#[tokio::test]
async fn a_two_channel_meeting_is_transcribed_by_amazon_transcribe() {
    let fake = FakeTranscribe::start(knobs()).await;
    let s = server(&fake).await;
    s.user("ana@example.com", &[]).await;
    let t = s.token("ana@example.com").await;
    let call_id = "Planning - 2026-12-07-10:30:00.000";

    let host = s.base.trim_start_matches("http://");
    let mut req = format!("ws://{host}/api/v1/ws").into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {t}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let start = json!({"callEvent": "START", "callId": call_id, "agentId": "Ana", "fromNumber": "Team",
                       "toNumber": "Planning", "samplingRate": 16_000, "activeSpeaker": "Bo"});
    ws.send(Message::Text(start.to_string().into())).await.unwrap();
    let started = crate::meetings::frame(&mut ws).await.unwrap();
    assert_eq!(started["type"], "started", "{started}");
    let channel = started["meeting"]["channel"].as_str().unwrap().to_owned();
    let mut rt = crate::realtime::connect(&s, &t).await;
    init(&mut rt).await;
    send(&mut rt, json!({"type": "subscribe", "id": "m", "channel": channel})).await;
    assert_eq!(next(&mut rt).await["type"], "subscribe_success");

    for (i, f) in frames(3.0).into_iter().enumerate() {
        if i == 15 {
            let change = json!({"callEvent": "SPEAKER_CHANGE", "callId": call_id, "activeSpeaker": "Cy"});
            ws.send(Message::Text(change.to_string().into())).await.unwrap();
        }
        ws.send(Message::Binary(f.into())).await.unwrap();
    }
    ws.send(Message::Text(json!({"callEvent": "END", "callId": call_id}).to_string().into())).await.unwrap();
    loop {
        let f = crate::meetings::frame(&mut ws).await.unwrap();
        if f["type"] == "ended" {
            break;
        }
    }

    // Live: each final comes after partials of the same segment, whose text grows into it.
    let mut live: HashMap<String, Vec<(bool, String)>> = HashMap::new();
    let mut finals = 0;
    while finals < 3 {
        let ev = next(&mut rt).await;
        let Some(e) = ev["event"].as_str().map(|e| serde_json::from_str::<Value>(e).unwrap()) else { continue };
        if e["EventType"] != "ADD_TRANSCRIPT_SEGMENT" {
            continue;
        }
        let partial = e["IsPartial"].as_bool().unwrap();
        finals += usize::from(!partial);
        let entry = live.entry(e["SegmentId"].as_str().unwrap().to_owned()).or_default();
        entry.push((partial, e["Transcript"].as_str().unwrap().to_owned()));
    }
    assert_eq!(live.len(), 3, "{live:?}");
    for (id, seen) in &live {
        let (last_partial, text) = seen.last().unwrap();
        assert!(!last_partial, "{id}: the final comes last: {seen:?}");
        assert_eq!(seen.len(), 3, "{id}: two partials, then the final: {seen:?}");
        assert!(seen.iter().all(|(_, t)| text.starts_with(t.as_str())), "{id}: {seen:?}");
    }

    // Stored: the finals, with LMA's fields.
    let enc = percent_encoding::utf8_percent_encode(call_id, percent_encoding::NON_ALPHANUMERIC).to_string();
    let tr = s.get(&format!("/v1/meetings/{enc}/transcript"), Some(&t)).await.expect(200).body;
    let mut segs: Vec<(String, String, f64, f64, String, bool)> = tr["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["Channel"].as_str().unwrap().to_owned(),
                s["Speaker"].as_str().unwrap().to_owned(),
                s["StartTime"].as_f64().unwrap(),
                s["EndTime"].as_f64().unwrap(),
                s["Transcript"].as_str().unwrap().to_owned(),
                s["IsPartial"].as_bool().unwrap(),
            )
        })
        .collect();
    segs.sort_by(|a, b| (a.0.as_str(), a.2).partial_cmp(&(b.0.as_str(), b.2)).unwrap());
    let want = |c: &str, sp: &str, a: f64, b: f64, t: &str| (c.to_owned(), sp.to_owned(), a, b, t.to_owned(), false);
    assert_eq!(
        segs,
        vec![
            want("AGENT", "Ana", 0.4, 1.4, "thanks I have the test results"),
            want("CALLER", "Bo", 0.2, 1.2, "welcome to the weekly planning meeting"),
            want("CALLER", "Cy", 1.6, 2.6, "first the status of the portal"),
        ]
    );
    assert!(tr["segments"].as_array().unwrap().iter().all(|s| s["Sentiment"].is_string()));

    // The fake saw two signed streams, each with all of its channel's audio and the end frame.
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2, "one Transcribe stream per channel");
    for r in &reqs {
        assert_eq!(r.auth.as_ref().map(|a| a.service.as_str()), Some("transcribe"));
        assert_eq!((r.language_code.as_str(), r.sample_rate, r.media_encoding.as_str()), ("en-US", 16_000, "pcm"));
        assert!((r.audio_secs() - 3.0).abs() < 0.05, "all audio arrived: {}", r.audio_secs());
        assert!(r.end_frame && r.framing_error.is_none(), "{r:?}");
    }
}
