//! Live meetings through LMA's audio WebSocket with a real WebSocket client: the whole flow
//! (START, audio, SPEAKER_CHANGE, END) with the pass-through recogniser, the transcript in every
//! format, the recording with ranges, the live channel, every misuse of the protocol, and every
//! meeting route and channel refused to another user.

use crate::common::*;
use crate::realtime::{Ws, init, next, send};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// One utterance per second of audio, so the transcript's shape is known.
const TWEAK: &[(&str, Value)] = &[];

pub(crate) async fn server() -> TestServer {
    TestServer::start_with(&[("speech.passthrough_interval", json!("1s")), ("meetings.final_timeout", json!("5s"))])
        .await
}

/// Opens the audio socket; `auth` is a header value or `None`, `query` is appended as is.
async fn audio_socket(s: &TestServer, auth: Option<&str>, query: &str) -> Result<Ws, u16> {
    let host = s.base.trim_start_matches("http://");
    let mut req = format!("ws://{host}/api/v1/ws{query}").into_client_request().unwrap();
    if let Some(a) = auth {
        req.headers_mut().insert("authorization", format!("Bearer {a}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

fn start_msg(call_id: &str, rate: u32) -> Value {
    json!({"callEvent": "START", "callId": call_id, "agentId": "Ana", "fromNumber": "Customer",
           "toNumber": "Weekly sync", "samplingRate": rate, "activeSpeaker": "Bo"})
}

/// `secs` of a quiet two-channel tone at `rate`, as 100 ms frames.
fn frames(rate: u32, secs: f64) -> Vec<Vec<u8>> {
    let n = (f64::from(rate) * secs) as usize;
    let mut pcm = Vec::with_capacity(n * 4);
    for i in 0..n {
        let v = ((i as f32 * 0.05).sin() * 1000.0) as i16;
        pcm.extend_from_slice(&v.to_le_bytes());
        pcm.extend_from_slice(&(-v).to_le_bytes());
    }
    pcm.chunks(rate as usize / 10 * 4).map(<[u8]>::to_vec).collect()
}

/// The next JSON text frame, or the close frame's code.
pub(crate) async fn frame(ws: &mut Ws) -> Result<Value, Option<CloseCode>> {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a frame in time");
        match m {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(t.as_str()).unwrap()),
            Some(Ok(Message::Close(c))) => return Err(c.map(|c| c.code)),
            None | Some(Err(_)) => return Err(None),
            Some(Ok(_)) => {}
        }
    }
}

/// The close code, skipping text frames before it.
async fn closed(ws: &mut Ws) -> Option<CloseCode> {
    loop {
        if let Err(c) = frame(ws).await {
            return c;
        }
    }
}

async fn text(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// A meeting streamed from START to END: `secs` of audio at `rate`.
pub(crate) async fn stream_meeting(s: &TestServer, token: &str, call_id: &str, rate: u32, secs: f64) -> Value {
    let mut ws = audio_socket(s, Some(token), "").await.unwrap();
    text(&mut ws, start_msg(call_id, rate)).await;
    let started = frame(&mut ws).await.unwrap();
    assert_eq!(started["type"], "started", "{started}");
    for (i, f) in frames(rate, secs).into_iter().enumerate() {
        if i == 10 {
            text(&mut ws, json!({"callEvent": "SPEAKER_CHANGE", "callId": call_id, "activeSpeaker": "Cy"})).await;
        }
        ws.send(Message::Binary(f.into())).await.unwrap();
    }
    text(&mut ws, json!({"callEvent": "END", "callId": call_id})).await;
    let ended = frame(&mut ws).await.unwrap();
    assert_eq!(ended["type"], "ended", "{ended}");
    assert_eq!(closed(&mut ws).await, Some(CloseCode::Normal));
    ended["meeting"].clone()
}

pub(crate) fn enc(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn a_meeting_from_start_to_end_with_transcript_and_recording() {
    let s = server().await;
    s.user("ana@example.com", &[]).await;
    let t = s.token("ana@example.com").await;
    let id = "Weekly sync - 2026-12-07-10:30:00.000";
    let m = stream_meeting(&s, &t, id, 16_000, 3.0).await;
    assert_eq!(
        (m["id"].as_str(), m["status"].as_str(), m["title"].as_str()),
        (Some(id), Some("ended"), Some("Weekly sync"))
    );
    assert_eq!(m["durationSecs"], 3.0);
    assert_eq!(m["participants"]["speakers"], json!(["Bo", "Cy"]));

    let list = s.get("/v1/meetings", Some(&t)).await.expect(200).body;
    assert_eq!(list["total"], 1);
    let tr = s.get(&format!("/v1/meetings/{}/transcript", enc(id)), Some(&t)).await.expect(200).body;
    let segs = tr["segments"].as_array().unwrap();
    assert_eq!(segs.len(), 6, "three utterances per channel: {tr}");
    let callers: Vec<&Value> = segs.iter().filter(|s| s["Channel"] == "CALLER").collect();
    assert_eq!(callers[0]["Speaker"], "Bo");
    assert_eq!(callers[2]["Speaker"], "Cy", "the speaker after SPEAKER_CHANGE (at 1 s)");
    assert!(segs.iter().filter(|s| s["Channel"] == "AGENT").all(|s| s["Speaker"] == "Ana"));
    let starts: Vec<f64> = callers.iter().map(|s| s["StartTime"].as_f64().unwrap()).collect();
    assert_eq!(starts, vec![0.0, 1.0, 2.0]);
    assert!(segs.iter().all(|s| s["IsPartial"] == false && s["Sentiment"].is_string()));

    let srt = s
        .http
        .get(format!("{}/v1/meetings/{}/transcript?format=srt", s.base, enc(id)))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(srt.headers()["content-type"], "application/x-subrip; charset=utf-8");
    assert!(srt.text().await.unwrap().starts_with("1\n00:00:00,000 --> 00:00:01,000\nBo: utterance 1 ends"));
    let vtt = s
        .http
        .get(format!("{}/v1/meetings/{}/transcript?format=vtt", s.base, enc(id)))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert!(vtt.text().await.unwrap().starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Bo>"));
    let txt = s
        .http
        .get(format!("{}/v1/meetings/{}/transcript?format=text", s.base, enc(id)))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert!(txt.text().await.unwrap().contains("[00:00:02] Ana: utterance 3 ends"));
    s.get(&format!("/v1/meetings/{}/transcript?format=pdf", enc(id)), Some(&t))
        .await
        .expect_error(400, "invalid_request");

    // The recording: a WAV of exactly what was sent, and byte ranges of it.
    let url = format!("{}/v1/meetings/{}/recording", s.base, enc(id));
    let wav = s.http.get(&url).bearer_auth(&t).send().await.unwrap();
    assert_eq!(wav.status(), 200);
    assert_eq!(wav.headers()["content-type"], "audio/wav");
    let bytes = wav.bytes().await.unwrap();
    assert_eq!(bytes.len(), 44 + 3 * 16_000 * 4);
    assert_eq!(&bytes[..4], b"RIFF");
    let sent: Vec<u8> = frames(16_000, 3.0).concat();
    assert_eq!(&bytes[44..], &sent[..]);
    let part = s.http.get(&url).bearer_auth(&t).header("range", "bytes=100000-100099").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], format!("bytes 100000-100099/{}", bytes.len()));
    assert_eq!(&part.bytes().await.unwrap()[..], &bytes[100_000..100_100]);
    let bad = s.http.get(&url).bearer_auth(&t).header("range", "bytes=999999999-").send().await.unwrap();
    assert_eq!(bad.status(), 416);
    // A link for players that cannot send headers: ranges work, a changed token does not.
    let link = s.post(&format!("/v1/meetings/{}/recording/link", enc(id)), Some(&t), json!({})).await.expect(200).body;
    let link_url = format!("{}{}", s.base, link["url"].as_str().unwrap());
    let r = s.http.get(&link_url).header("range", "bytes=44-143").send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(&r.bytes().await.unwrap()[..], &bytes[44..144]);
    let forged = link_url.replace(".u.", ".a.");
    assert_eq!(s.http.get(&forged).send().await.unwrap().status(), 404);
    // No audio, name or word of it in the clear on disk.
    let needle = b"Weekly sync";
    for e in walk(&s.data_dir()) {
        let data = std::fs::read(&e).unwrap();
        assert!(!data.windows(needle.len()).any(|w| w == needle), "{} holds the meeting's title", e.display());
    }
    let _ = TWEAK;
}

pub(crate) fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

#[tokio::test]
async fn the_live_channel_streams_segments_to_readers_only() {
    let s = server().await;
    s.user("ana@example.com", &[]).await;
    s.user("eve@example.com", &[]).await;
    let t = s.token("ana@example.com").await;
    let eve = s.token("eve@example.com").await;
    let mut ws = audio_socket(&s, Some(&t), "").await.unwrap();
    text(&mut ws, start_msg("live-1", 16_000)).await;
    let started = frame(&mut ws).await.unwrap();
    let channel = started["meeting"]["channel"].as_str().unwrap().to_owned();

    let mut rt = crate::realtime::connect(&s, &t).await;
    init(&mut rt).await;
    send(&mut rt, json!({"type": "subscribe", "id": "m1", "channel": channel})).await;
    assert_eq!(next(&mut rt).await["type"], "subscribe_success");
    let mut other = crate::realtime::connect(&s, &eve).await;
    init(&mut other).await;
    send(&mut other, json!({"type": "subscribe", "id": "m1", "channel": channel})).await;
    let refused = next(&mut other).await;
    assert_eq!(refused["type"], "subscribe_error");
    assert_eq!(refused["errors"][0]["errorType"], "UnauthorizedException");

    for f in frames(16_000, 1.2) {
        ws.send(Message::Binary(f.into())).await.unwrap();
    }
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let ev = next(&mut rt).await;
        assert_eq!(ev["type"], "data");
        let e: Value = serde_json::from_str(ev["event"].as_str().unwrap()).unwrap();
        if e["EventType"] == "ADD_TRANSCRIPT_SEGMENT" {
            seen.push((e["Channel"].as_str().unwrap().to_owned(), e["IsPartial"].as_bool().unwrap()));
        }
    }
    assert!(seen.contains(&("CALLER".into(), true)) && seen.contains(&("CALLER".into(), false)), "{seen:?}");
    text(&mut ws, json!({"callEvent": "END", "callId": "live-1"})).await;
    assert_eq!(frame(&mut ws).await.unwrap()["type"], "ended");
}

#[tokio::test]
async fn protocol_misuse_is_refused_or_ignored() {
    let s = server().await;
    s.user("ana@example.com", &[]).await;
    s.user("bo@example.com", &[]).await;
    let t = s.token("ana@example.com").await;
    let bo = s.token("bo@example.com").await;

    // No credential, a bad one, another scheme: 401 before the upgrade.
    assert_eq!(audio_socket(&s, None, "").await.err(), Some(401));
    assert_eq!(audio_socket(&s, Some("nope"), "").await.err(), Some(401));
    assert_eq!(audio_socket(&s, None, "?authorization=Basic%20eA==").await.err(), Some(401));
    assert_eq!(audio_socket(&s, None, "?ticket=forged").await.err(), Some(401));

    // Audio before START is dropped; END without START and unknown events are ignored; bad
    // JSON is answered with an error and the socket goes on.
    let mut ws = audio_socket(&s, Some(&t), "").await.unwrap();
    ws.send(Message::Binary(vec![0u8; 3200].into())).await.unwrap();
    text(&mut ws, json!({"callEvent": "END", "callId": "x"})).await;
    text(&mut ws, json!({"callEvent": "START_VIDEO", "callId": "x"})).await;
    ws.send(Message::Text("{not json".into())).await.unwrap();
    let err = frame(&mut ws).await.unwrap();
    assert_eq!((err["type"].as_str(), err["code"].as_str()), (Some("error"), Some("invalid_request")));
    assert_eq!(s.get("/v1/meetings", Some(&t)).await.expect(200).body["total"], 0);
    text(&mut ws, start_msg("misuse-1", 8_000)).await;
    assert_eq!(frame(&mut ws).await.unwrap()["type"], "started");
    text(&mut ws, json!({"callEvent": "END", "callId": "misuse-1"})).await;
    assert_eq!(frame(&mut ws).await.unwrap()["type"], "ended");
    // A second END finds the socket closing; nothing else happens.
    let _ = ws.send(Message::Text(json!({"callEvent": "END"}).to_string().into())).await;
    assert_eq!(closed(&mut ws).await, Some(CloseCode::Normal));

    // A wrong sample rate: 1003.
    let mut ws = audio_socket(&s, Some(&t), "").await.unwrap();
    text(&mut ws, start_msg("misuse-2", 96_000)).await;
    assert_eq!(closed(&mut ws).await, Some(CloseCode::Unsupported));
    // A frame over the limit: 1009.
    let mut ws = audio_socket(&s, Some(&t), "").await.unwrap();
    text(&mut ws, start_msg("misuse-3", 16_000)).await;
    assert_eq!(frame(&mut ws).await.unwrap()["type"], "started");
    ws.send(Message::Binary(vec![0u8; 300 * 1024].into())).await.unwrap();
    assert_eq!(closed(&mut ws).await, Some(CloseCode::Size));
    // The meeting was ended all the same.
    let m = s.get("/v1/meetings/misuse-3", Some(&t)).await.expect(200).body;
    assert_eq!(m["status"], "ended");

    // Another user's call id: 1008, and their meeting is untouched.
    let mut ws = audio_socket(&s, Some(&bo), "").await.unwrap();
    text(&mut ws, start_msg("misuse-1", 8_000)).await;
    assert_eq!(closed(&mut ws).await, Some(CloseCode::Policy));
    s.get("/v1/meetings/misuse-1", Some(&bo)).await.expect_error(404, "not_found");
    assert_eq!(s.get("/v1/meetings/misuse-1", Some(&t)).await.expect(200).body["durationSecs"], 0.0);

    // A close without END ends the meeting.
    let mut ws = audio_socket(&s, Some(&t), "").await.unwrap();
    text(&mut ws, start_msg("misuse-4", 16_000)).await;
    assert_eq!(frame(&mut ws).await.unwrap()["type"], "started");
    for f in frames(16_000, 1.0) {
        ws.send(Message::Binary(f.into())).await.unwrap();
    }
    ws.close(None).await.unwrap();
    drop(ws);
    let mut ended = false;
    for _ in 0..50 {
        if s.get("/v1/meetings/misuse-4", Some(&t)).await.expect(200).body["status"] == "ended" {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ended, "a dropped socket ends its meeting");
}

#[tokio::test]
async fn lma_query_form_and_web_tickets_authenticate_and_stay_out_of_logs() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(&[
        ("speech.passthrough_interval", json!("1s")),
        ("access_log.target", json!("file")),
        ("access_log.dir", json!(dir.path().display().to_string())),
    ])
    .await;
    s.user("ana@example.com", &[]).await;
    let t = s.token("ana@example.com").await;
    let q = format!("?authorization=Bearer%20{t}&id_token=x&refresh_token=y");
    let mut ws = audio_socket(&s, None, &q).await.unwrap();
    text(&mut ws, start_msg("query-1", 16_000)).await;
    assert_eq!(frame(&mut ws).await.unwrap()["type"], "started");
    text(&mut ws, json!({"callEvent": "END"})).await;
    assert_eq!(frame(&mut ws).await.unwrap()["type"], "ended");

    let ticket = s.post("/v1/meetings/ticket", Some(&t), json!({})).await.expect(200).body;
    let tk = ticket["ticket"].as_str().unwrap();
    assert_eq!(ticket["expiresIn"], 60);
    let ws = audio_socket(&s, None, &format!("?ticket={tk}")).await;
    assert!(ws.is_ok(), "a ticket opens the socket");
    assert_eq!(audio_socket(&s, None, &format!("?ticket={tk}")).await.err(), Some(401), "once");
    drop(ws);

    tokio::time::sleep(Duration::from_millis(500)).await;
    let logs: String = walk(dir.path()).iter().map(|p| std::fs::read_to_string(p).unwrap_or_default()).collect();
    assert!(logs.contains("/api/v1/ws"), "the socket's requests are logged: {logs}");
    assert!(
        !logs.contains(&t) && !logs.contains(tk) && !logs.contains("authorization="),
        "no credential or query in the log"
    );
}

#[tokio::test]
async fn every_meeting_route_and_channel_refuses_another_users_meeting() {
    let s = server().await;
    s.user("ana@example.com", &[]).await;
    s.user("bo@example.com", &[]).await;
    let (_, admin) = s.admin().await;
    let t = s.token("ana@example.com").await;
    let bo = s.token("bo@example.com").await;
    let ana = stream_meeting(&s, &t, "ana's meeting", 16_000, 1.0).await;
    let id = enc("ana's meeting");
    let paths = [
        format!("/v1/meetings/{id}"),
        format!("/v1/meetings/{id}/transcript"),
        format!("/v1/meetings/{id}/transcript?format=vtt"),
        format!("/v1/meetings/{id}/recording"),
        format!("/v1/meetings/{id}/shares"),
    ];
    for p in &paths {
        s.get(p, Some(&bo)).await.expect_error(404, "not_found");
    }
    let users = json!({"users": ["bo@example.com"]});
    s.post(&format!("/v1/meetings/{id}/share"), Some(&bo), users.clone()).await.expect_error(404, "not_found");
    s.post(&format!("/v1/meetings/{id}/unshare"), Some(&bo), users.clone()).await.expect_error(404, "not_found");
    s.delete(&format!("/v1/meetings/{id}"), Some(&bo)).await.expect_error(404, "not_found");
    s.post(&format!("/v1/meetings/{id}/recording/link"), Some(&bo), json!({})).await.expect_error(404, "not_found");
    assert_eq!(s.get("/v1/meetings", Some(&bo)).await.expect(200).body["total"], 0);
    // A link Ana made is Ana's: it does not open another meeting.
    let link = s.post(&format!("/v1/meetings/{id}/recording/link"), Some(&t), json!({})).await.expect(200).body;
    stream_meeting(&s, &bo, "bo's meeting", 16_000, 1.0).await;
    let other = link["url"].as_str().unwrap().replace(&id, &enc("bo's meeting"));
    assert_eq!(s.http.get(format!("{}{other}", s.base)).send().await.unwrap().status(), 404);

    // Shared: Bo reads it all, changes nothing.
    let shared = s.post(&format!("/v1/meetings/{id}/share"), Some(&t), users.clone()).await.expect(200).body;
    assert_eq!(shared["sharedWith"], json!(["bo@example.com"]));
    for p in &paths[..4] {
        s.get(p, Some(&bo)).await.expect(200);
    }
    s.get(&paths[4], Some(&bo)).await.expect_error(403, "forbidden");
    s.delete(&format!("/v1/meetings/{id}"), Some(&bo)).await.expect_error(403, "forbidden");
    assert_eq!(
        s.get("/v1/meetings", Some(&bo)).await.expect(200).body["total"],
        2,
        "his own and the one shared with him"
    );
    // Unshared: gone for Bo at once.
    s.post(&format!("/v1/meetings/{id}/unshare"), Some(&t), users).await.expect(200);
    s.get(&paths[0], Some(&bo)).await.expect_error(404, "not_found");
    // Administrators see every meeting.
    s.get(&paths[0], Some(&admin)).await.expect(200);
    // A credential without the meetings scope is refused.
    let key =
        s.post("/v1/me/api-keys", Some(&t), json!({"name": "chat only", "scopes": ["chat"]})).await.expect(201).body;
    s.get("/v1/meetings", Some(key["key"].as_str().unwrap())).await.expect_error(403, "forbidden");
    // The owner deletes it: transcript, recording and all.
    s.delete(&format!("/v1/meetings/{id}"), Some(&t)).await.expect(204);
    s.get(&paths[0], Some(&t)).await.expect_error(404, "not_found");
    assert!(!s.data_dir().join("recordings").join(ana["key"].as_str().unwrap()).exists());
}

#[tokio::test]
async fn meetings_left_live_by_a_crash_are_ended_at_the_next_start() {
    let s = server().await;
    s.user("ana@example.com", &[]).await;
    let t = s.token("ana@example.com").await;
    let p = s.state.identity.authenticate(rampart_core::Credential::Bearer(&t)).await.unwrap();
    let start = match rampart_meetings::protocol::parse(&start_msg("crash-1", 16_000).to_string()).unwrap() {
        rampart_meetings::protocol::ClientMessage::Start(st) => st,
        other => panic!("{other:?}"),
    };
    let mut live = s.state.meetings.start_live(&p, start).await.unwrap();
    for f in frames(16_000, 6.0) {
        live.audio(&f).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The process "dies": the live meeting is never ended.
    std::mem::forget(live);
    assert_eq!(s.get("/v1/meetings/crash-1", Some(&t)).await.expect(200).body["status"], "live");
    assert_eq!(s.state.meetings.finalize_unfinished().await.unwrap(), 1);
    let m = s.get("/v1/meetings/crash-1", Some(&t)).await.expect(200).body;
    assert_eq!(m["status"], "ended");
    assert_eq!(m["recording"]["status"], "available", "the complete chunks are kept: {m}");
    assert_eq!(m["recording"]["bytes"], 5 * 16_000 * 4, "one 5-second chunk was written, the rest lost");
    let tr = s.get("/v1/meetings/crash-1/transcript", Some(&t)).await.expect(200).body;
    assert!(tr["segments"].as_array().unwrap().len() >= 10, "every acknowledged (final) segment is kept: {tr}");
}

#[tokio::test]
async fn retention_removes_recordings_transcripts_and_meetings() {
    let s = server().await;
    s.user("ana@example.com", &[]).await;
    let t = s.token("ana@example.com").await;
    stream_meeting(&s, &t, "old", 16_000, 1.0).await;
    let later = s.state.identity.now().plus(Duration::from_secs(91 * 86_400));
    rampart_server::retention::sweep_once(&s.state, later).await.unwrap();
    s.get("/v1/meetings/old", Some(&t)).await.expect_error(404, "not_found");
    assert!(walk(&s.data_dir().join("recordings")).is_empty());
}

/// A WAV file of `frames(rate, secs)`.
pub(crate) fn wav(rate: u32, secs: f64) -> Vec<u8> {
    let pcm = frames(rate, secs).concat();
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + pcm.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&(rate * 4).to_le_bytes());
    w.extend_from_slice(&4u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(pcm.len() as u32).to_le_bytes());
    w.extend_from_slice(&pcm);
    w
}

pub(crate) async fn upload(s: &TestServer, t: &str, bytes: Vec<u8>, title: &str) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name("meeting.wav");
    let form = reqwest::multipart::Form::new().part("file", part).text("title", title.to_owned());
    let r = s.http.post(format!("{}/v1/meetings/upload", s.base)).bearer_auth(t).multipart(form).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn an_uploaded_file_goes_through_the_same_pipeline() {
    let s = server().await;
    s.user("ana@example.com", &[]).await;
    let t = s.token("ana@example.com").await;
    let (status, m) = upload(&s, &t, wav(44_100, 3.0), "Board call").await;
    assert_eq!(status, 202, "{m}");
    assert_eq!(
        (m["status"].as_str(), m["source"].as_str(), m["title"].as_str()),
        (Some("processing"), Some("upload"), Some("Board call"))
    );
    let id = enc(m["id"].as_str().unwrap());
    let mut done = Value::Null;
    for _ in 0..100 {
        done = s.get(&format!("/v1/meetings/{id}"), Some(&t)).await.expect(200).body;
        if done["status"] != "processing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(done["status"], "ended", "{done}");
    assert_eq!(done["durationSecs"], 3.0);
    let tr = s.get(&format!("/v1/meetings/{id}/transcript"), Some(&t)).await.expect(200).body;
    assert_eq!(tr["segments"].as_array().unwrap().len(), 6, "{tr}");
    // Not audio: refused, nothing stored.
    let (status, body) = upload(&s, &t, b"just some text, not audio at all".to_vec(), "x").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_request")), "{body}");
    assert_eq!(s.get("/v1/meetings", Some(&t)).await.expect(200).body["total"], 1);
}

/// AAC in an MP4 container (`.m4a`) by FFmpeg's own encoder, through PyAV (the `av` wheel,
/// which bundles FFmpeg; installed by `make test` into the test venv).
const TO_M4A: &str = r#"
import sys, av
src, dst = sys.argv[1], sys.argv[2]
with av.open(src) as i, av.open(dst, "w", format="ipod") as o:
    a = i.streams.audio[0]
    layout = "stereo" if a.channels == 2 else "mono"
    s = o.add_stream("aac", rate=a.rate, layout=layout)
    r = av.AudioResampler(format="fltp", layout=layout, rate=a.rate)
    for frame in i.decode(a):
        for f in r.resample(frame):
            for p in s.encode(f):
                o.mux(p)
    for p in s.encode(None):
        o.mux(p)
"#;

#[expect(clippy::print_stderr, reason = "a skipped part says so on the test's output")]
fn skipped_m4a() {
    eprintln!("SKIPPED M4A (AAC) uploads: RAMPART_TEST_PYTHON (a Python with PyAV; make test) is not set");
}

/// `file` converted by a command line tool (sox, opusenc, PyAV) into `out` in a temporary folder.
fn convert(dir: &std::path::Path, wav: &[u8], out: &str) -> Vec<u8> {
    let src = dir.join("source.wav");
    std::fs::write(&src, wav).unwrap();
    let dst = dir.join(out);
    let status = if out.ends_with(".opus") {
        std::process::Command::new("opusenc").arg("--quiet").arg(&src).arg(&dst).status()
    } else if out.ends_with(".m4a") {
        let python = std::env::var("RAMPART_TEST_PYTHON").expect("a Python with PyAV");
        std::process::Command::new(python).args(["-c", TO_M4A]).arg(&src).arg(&dst).status()
    } else {
        std::process::Command::new("sox").arg(&src).arg(&dst).status()
    };
    assert!(status.expect("sox, opusenc and the test venv are installed (make test)").success(), "{out}");
    std::fs::read(dst).unwrap()
}

#[tokio::test]
async fn uploads_in_the_common_formats_report_their_progress() {
    let s = server().await;
    let uid = s.user("ana@example.com", &[]).await;
    let t = s.token("ana@example.com").await;
    let mut rt = crate::realtime::connect(&s, &t).await;
    init(&mut rt).await;
    send(&mut rt, json!({"type": "subscribe", "id": "l", "channel": format!("/user-meetings/{uid}")})).await;
    assert_eq!(next(&mut rt).await["type"], "subscribe_success");
    let dir = tempfile::tempdir().unwrap();
    let source = wav(44_100, 3.0);
    // M4A needs PyAV from the test venv (`make test` installs it).
    let mut formats = vec!["call.mp3", "call.flac", "call.ogg", "call.opus"];
    if std::env::var_os("RAMPART_TEST_PYTHON").is_some() {
        formats.push("call.m4a");
    } else {
        skipped_m4a();
    }
    for name in formats {
        let (status, m) = upload(&s, &t, convert(dir.path(), &source, name), name).await;
        assert_eq!(status, 202, "{name}: {m}");
        // The owner's list follows it: a first progress report with the file's length, then its end.
        let (mut progress, mut ended) = (Vec::new(), Value::Null);
        while ended.is_null() {
            let ev = next(&mut rt).await;
            let e: Value = serde_json::from_str(ev["event"].as_str().unwrap()).unwrap();
            if e["id"] != m["id"] && e["meeting"]["id"] != m["id"] {
                continue;
            }
            match e["type"].as_str() {
                Some("progress") => progress.push(e),
                Some("updated") if e["meeting"]["status"] != "processing" => ended = e["meeting"].clone(),
                _ => {}
            }
        }
        assert!(!progress.is_empty(), "{name}: progress reported");
        assert_eq!(progress[0]["processedSecs"], 0.0, "{name}: {progress:?}");
        let total = progress[0]["totalSecs"].as_f64().unwrap_or(3.0);
        assert!((total - 3.0).abs() < 0.1, "{name}: the file's length {total}");
        assert_eq!(ended["status"], "ended", "{name}: {ended}");
        let secs = ended["durationSecs"].as_f64().unwrap();
        assert!((secs - 3.0).abs() < 0.1, "{name}: {secs} s decoded");
        let tr = s.get(&format!("/v1/meetings/{}/transcript", enc(m["id"].as_str().unwrap())), Some(&t)).await;
        let n = tr.expect(200).body["segments"].as_array().unwrap().len();
        assert!((6..=8).contains(&n), "{name}: {n} segments (one a second on each channel)");
    }
}
