//! The MCP server at `/mcp`: the official MCP Python SDK (`mcp` from PyPI, which `make test`
//! installs into target/pyenv) as the client in both protocol eras, with an API key and through
//! OAuth; the protocol's errors and the transport's refusals over raw HTTP; and access decided
//! at every call — another user's ids answered like unknown ones, a share or a group removed
//! counting at once, an OAuth token granted for `/mcp` refused everywhere else.

use crate::common::*;
use crate::knowledge::{HANDBOOK, create_kb, ingested, upload};
use crate::meetings::stream_meeting;
use serde_json::{Value, json};

const MODERN: &str = "2026-07-28";

struct World {
    s: TestServer,
    admin: String,
    ana: String,
    bo: String,
    bo_id: String,
    ana_key: String,
    bo_key: String,
    /// Ana's knowledge base, readable by `staff` (Bo's group).
    kb: String,
    /// Bo's own knowledge base.
    bo_kb: String,
}

async fn key(s: &TestServer, token: &str, scopes: &[&str]) -> String {
    let r = s.post("/v1/me/api-keys", Some(token), json!({"name": "mcp", "scopes": scopes})).await.expect(201);
    r.body["key"].as_str().unwrap().to_owned()
}

/// The configuration the tests run with: one utterance per second of meeting audio.
fn config(tweak: &[(&'static str, Value)]) -> Vec<(&'static str, Value)> {
    let mut t = vec![("speech.passthrough_interval", json!("1s")), ("meetings.final_timeout", json!("5s"))];
    t.extend(tweak.iter().cloned());
    t
}

async fn world(tweak: &[(&'static str, Value)]) -> World {
    populate(TestServer::start_with(&config(tweak)).await).await
}

/// Ana's meeting and handbook (shared with `staff`), Bo's meeting and notes; keys with `mcp`.
async fn populate(s: TestServer) -> World {
    let (_, admin) = s.admin().await;
    s.post("/v1/admin/groups", Some(&admin), json!({"name": "staff"})).await.expect(201);
    s.user("ana@example.com", &[]).await;
    let bo_id = s.user("bo@example.com", &["staff"]).await;
    let (ana, bo) = (s.token("ana@example.com").await, s.token("bo@example.com").await);
    stream_meeting(&s, &ana, "ana-weekly", 16_000, 2.0).await;
    stream_meeting(&s, &bo, "bo-private", 16_000, 1.0).await;
    let kb = create_kb(&s, &ana, "handbook", &["staff"]).await;
    assert_eq!(upload(&s, &ana, &kb, &[("handbook.md", HANDBOOK.as_bytes())]).await.status(), 202);
    ingested(&s, &ana, &kb).await;
    let bo_kb = create_kb(&s, &bo, "notes", &[]).await;
    let (ana_key, bo_key) = (key(&s, &ana, &["mcp"]).await, key(&s, &bo, &["mcp"]).await);
    World { s, admin, ana, bo, bo_id, ana_key, bo_key, kb, bo_kb }
}

/// A POST to `/mcp` with what a client sends (`Accept`, `Content-Type`, the credential) and
/// `extra` headers; status, headers and body.
async fn post(s: &TestServer, auth: Option<&str>, extra: &[(&str, &str)], body: &str) -> Resp {
    let mut r = s
        .http
        .post(format!("{}/mcp", s.base))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(a) = auth {
        r = r.bearer_auth(a);
    }
    for (k, v) in extra {
        r = r.header(*k, *v);
    }
    Resp::read(r.send().await.unwrap()).await
}

/// A handshake-era request (`version`: the negotiated `MCP-Protocol-Version`, if any).
async fn legacy(s: &TestServer, auth: &str, version: Option<&str>, method: &str, params: Value) -> Resp {
    let h: Vec<(&str, &str)> = version.map(|v| ("mcp-protocol-version", v)).into_iter().collect();
    post(s, Some(auth), &h, &json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}).to_string()).await
}

/// A 2026-07-28 request: the version and capabilities in `_meta`, mirrored in the headers.
async fn modern(s: &TestServer, auth: &str, method: &str, mut params: Value) -> Resp {
    params["_meta"] =
        json!({"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}});
    let name = params["name"].as_str().unwrap_or("").to_owned();
    let mut h = vec![("mcp-protocol-version", MODERN), ("mcp-method", method)];
    if !name.is_empty() {
        h.push(("mcp-name", &name));
    }
    post(s, Some(auth), &h, &json!({"jsonrpc": "2.0", "id": "r1", "method": method, "params": params}).to_string())
        .await
}

/// A tool's result (2026-07-28).
async fn call(s: &TestServer, auth: &str, tool: &str, args: Value) -> Value {
    let r = modern(s, auth, "tools/call", json!({"name": tool, "arguments": args})).await.expect(200);
    assert_eq!(r.body["result"]["resultType"], "complete", "{}", r.body);
    r.body["result"].clone()
}

fn meeting_ids(list_result: &Value) -> Vec<String> {
    let ms = list_result["structuredContent"]["meetings"].as_array().unwrap();
    ms.iter().map(|m| m["meetingId"].as_str().unwrap().to_owned()).collect()
}

/// A Python with the MCP SDK: `RAMPART_TEST_PYTHON`, or the venv `make test` builds.
fn python_with_mcp(test: &str) -> Option<String> {
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/pyenv/bin/python").to_owned();
    let found = std::env::var("RAMPART_TEST_PYTHON").ok().into_iter().chain([venv]).find(|p| {
        std::process::Command::new(p)
            .args(["-c", "import mcp.client.streamable_http"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        rampart_testkit::skipped(&format!("mcp::{test} (no Python with the MCP SDK; `make test` installs it)"));
    }
    found
}

async fn run_python(python: &str, script: &str, env: &[(&str, &str)]) -> Value {
    let mut c = tokio::process::Command::new(python);
    c.args(["-c", script]);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().await.unwrap();
    assert!(out.status.success(), "SDK script failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// The SDK's `Client` over streamable HTTP with an API key, in `legacy` mode (the initialize
/// handshake) and `auto` mode (which finds the 2026-07-28 era through `server/discover`).
const SDK_SCRIPT: &str = r#"
import asyncio, json, os
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

E = os.environ

def texts(r):
    return [c.text for c in r.content if getattr(c, "type", "") == "text"]

async def outcome(c, tool, args):
    r = await c.call_tool(tool, args)
    return {"isError": r.is_error, "text": texts(r)}

async def run(mode):
    http = httpx2.AsyncClient(headers={"x-api-key": E["API_KEY"]}, timeout=30)
    async with http, Client(streamable_http_client(E["MCP_URL"], http_client=http), mode=mode) as c:
        out = {"version": c.protocol_version, "server": c.server_info.name if c.server_info else None}
        tools = await c.list_tools()
        out["tools"] = [t.name for t in tools.tools]
        out["list"] = (await c.call_tool("list_meetings", {"limit": 10})).structured_content
        for fmt in ["text", "srt", "json"]:
            r = await c.call_tool("get_meeting_transcript", {"meetingId": E["MINE"], "format": fmt})
            out["transcript_" + fmt] = r.structured_content if fmt == "json" else texts(r)[0]
        r = await c.call_tool("search_knowledge_base", {"query": "how many vacation days", "maxResults": 3})
        out["search"] = r.structured_content
        r = await c.call_tool("search_meetings", {"query": "utterance ends", "maxResults": 5})
        out["search_meetings"] = r.structured_content
        out["summary"] = await outcome(c, "get_meeting_summary", {"meetingId": E["MINE"]})
        out["idor"] = {
            "other_summary": await outcome(c, "get_meeting_summary", {"meetingId": E["OTHER"]}),
            "other_meeting": await outcome(c, "get_meeting_transcript", {"meetingId": E["OTHER"]}),
            "no_meeting": await outcome(c, "get_meeting_transcript", {"meetingId": "no-such-meeting"}),
            "other_kb": await outcome(c, "search_knowledge_base", {"query": "x", "knowledgeBaseIds": [E["OTHER_KB"]]}),
            "no_kb": await outcome(c, "search_knowledge_base", {"query": "x", "knowledgeBaseIds": [E["NO_KB"]]}),
        }
        out["bad_args"] = await outcome(c, "list_meetings", {"limit": 0})
        try:
            await c.call_tool("no_such_tool", {})
            out["unknown_tool"] = None
        except Exception as e:
            out["unknown_tool"] = getattr(e, "code", repr(e))
        if mode == "legacy":
            await c.send_ping()
    return out

async def main():
    print(json.dumps({m: await run(m) for m in ["legacy", "auto"]}))

asyncio.run(main())
"#;

#[tokio::test]
async fn the_official_python_sdk_speaks_both_eras_and_calls_every_tool() {
    let Some(python) = python_with_mcp("the_official_python_sdk_speaks_both_eras_and_calls_every_tool") else { return };
    let w = world(&[]).await;
    // Meetings are indexed for search in the background once they end.
    for _ in 0..200 {
        let r = w.s.get("/v1/meetings/search?q=utterance", Some(&w.ana)).await.expect(200).body;
        if r.to_string().contains("ana-weekly") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let url = format!("{}/mcp", w.s.base);
    let no_kb = uuid::Uuid::new_v4().to_string();
    let env = [
        ("MCP_URL", url.as_str()),
        ("API_KEY", &w.ana_key),
        ("MINE", "ana-weekly"),
        ("OTHER", "bo-private"),
        ("OTHER_KB", &w.bo_kb),
        ("NO_KB", &no_kb),
    ];
    let v = run_python(&python, SDK_SCRIPT, &env).await;
    for (mode, version) in [("legacy", "2025-11-25"), ("auto", MODERN)] {
        let o = &v[mode];
        assert_eq!((o["version"].as_str(), o["server"].as_str()), (Some(version), Some("rampart")), "{mode}");
        let all = [
            "get_meeting_summary",
            "get_meeting_transcript",
            "list_meetings",
            "search_knowledge_base",
            "search_meetings",
        ];
        assert_eq!(o["tools"], json!(all), "{mode}");
        // Search finds Ana's meeting, never Bo's (which says the same words).
        let found: Vec<&str> = o["search_meetings"]["meetings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["meeting"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(found, ["ana-weekly"], "{mode}: {}", o["search_meetings"]);
        assert_eq!(o["summary"]["isError"], false, "{mode}: {}", o["summary"]);
        assert_eq!(o["idor"]["other_summary"], json!({"isError": true, "text": ["Meeting not found."]}));
        let list = &o["list"];
        assert_eq!((list["total"].as_i64(), list["meetings"][0]["meetingId"].as_str()), (Some(1), Some("ana-weekly")));
        assert_eq!(list["meetings"][0]["ownedByYou"], true);
        assert!(
            o["transcript_text"].as_str().unwrap().contains("utterance 1 ends"),
            "{mode}: {}",
            o["transcript_text"]
        );
        assert!(o["transcript_srt"].as_str().unwrap().starts_with("1\n00:00:00,000 --> "), "{}", o["transcript_srt"]);
        let j = &o["transcript_json"];
        assert_eq!(j["meeting"]["meetingId"], "ana-weekly");
        assert_eq!(j["segments"].as_array().unwrap().len(), 4, "two seconds, two channels: {j}");
        assert_eq!(o["search"]["results"][0]["documentName"], "handbook.md");
        assert!(o["search"]["results"][0]["text"].as_str().unwrap().contains("two vacation days"));
        let idor = &o["idor"];
        assert_eq!(idor["other_meeting"], json!({"isError": true, "text": ["Meeting not found."]}));
        assert_eq!(idor["other_meeting"], idor["no_meeting"], "another's meeting reads as an unknown one");
        assert_eq!(idor["other_kb"], json!({"isError": true, "text": ["Knowledge base not found."]}));
        assert_eq!(idor["other_kb"], idor["no_kb"], "another's knowledge base reads as an unknown one");
        assert_eq!(o["bad_args"]["isError"], true);
        assert!(
            o["bad_args"]["text"][0].as_str().unwrap().starts_with("Invalid arguments: limit"),
            "{}",
            o["bad_args"]
        );
        assert_eq!(o["unknown_tool"], -32602, "{mode}");
    }
}

#[tokio::test]
async fn both_eras_over_raw_http() {
    let w = world(&[]).await;
    let (s, k) = (&w.s, w.ana_key.as_str());
    // The handshake: the client's version when served, else the newest; no session is minted.
    for (asked, got) in [("2025-03-26", "2025-03-26"), ("2025-06-18", "2025-06-18"), ("2024-11-05", "2025-11-25")] {
        let r = legacy(
            s,
            k,
            None,
            "initialize",
            json!({"protocolVersion": asked, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        )
        .await
        .expect(200);
        assert_eq!((r.body["id"].as_i64(), r.body["result"]["protocolVersion"].as_str()), (Some(7), Some(got)));
        assert_eq!(r.body["result"]["serverInfo"]["name"], "rampart");
        assert!(r.headers.get("mcp-session-id").is_none());
    }
    let n = post(s, Some(k), &[], r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).await;
    assert_eq!((n.status.as_u16(), &n.body), (202, &Value::Null));
    assert_eq!(legacy(s, k, Some("2025-06-18"), "ping", Value::Null).await.expect(200).body["result"], json!({}));
    let tools = legacy(s, k, Some("2025-06-18"), "tools/list", Value::Null).await.expect(200).body;
    for t in tools["result"]["tools"].as_array().unwrap() {
        assert_eq!(
            (t["inputSchema"]["type"].as_str(), t["annotations"]["readOnlyHint"].as_bool()),
            (Some("object"), Some(true))
        );
    }
    // Unknown method: -32601 (200 in the handshake era, 404 in 2026-07-28).
    let r = legacy(s, k, Some("2025-11-25"), "resources/list", Value::Null).await.expect(200);
    assert_eq!(r.body["error"]["code"], -32601);
    assert_eq!(modern(s, k, "resources/list", json!({})).await.expect(404).body["error"]["code"], -32601);
    // Invalid params: no tool name, arguments not an object, an unknown tool.
    for p in [json!({}), json!({"name": "list_meetings", "arguments": [1]}), json!({"name": "nope"})] {
        let r = legacy(s, k, Some("2025-06-18"), "tools/call", p.clone()).await.expect(200);
        assert_eq!((r.body["id"].as_i64(), r.body["error"]["code"].as_i64()), (Some(7), Some(-32602)), "{p}");
    }
    // 2026-07-28: discovery, then requests checked against their headers and version.
    let d = modern(s, k, "server/discover", json!({})).await.expect(200).body["result"].clone();
    assert_eq!((d["supportedVersions"][0].as_str(), d["resultType"].as_str()), (Some(MODERN), Some("complete")));
    assert!(d["supportedVersions"].as_array().unwrap().contains(&json!("2025-03-26")));
    assert_eq!(d["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "rampart");
    let l = modern(s, k, "tools/list", json!({})).await.expect(200).body["result"].clone();
    assert_eq!((l["tools"].as_array().unwrap().len(), l["cacheScope"].as_str()), (5, Some("public")));
    let meta =
        json!({"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}});
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}}).to_string();
    let wrong_method = [("mcp-protocol-version", MODERN), ("mcp-method", "tools/call")];
    assert_eq!(post(s, Some(k), &wrong_method, &body).await.expect(400).body["error"]["code"], -32020);
    let call_body =
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"_meta": meta, "name": "list_meetings"}});
    let wrong_name =
        [("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", "search_knowledge_base")];
    assert_eq!(post(s, Some(k), &wrong_name, &call_body.to_string()).await.expect(400).body["error"]["code"], -32020);
    let future = body.replace(MODERN, "2099-01-01");
    let r = post(s, Some(k), &[("mcp-protocol-version", "2099-01-01"), ("mcp-method", "tools/list")], &future).await;
    let r = r.expect(400);
    assert_eq!(
        (r.body["error"]["code"].as_i64(), r.body["error"]["data"]["requested"].as_str()),
        (Some(-32022), Some("2099-01-01"))
    );
    assert_eq!(r.body["error"]["data"]["supported"][0], MODERN);
    let bare = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}}).to_string();
    let r = post(s, Some(k), &[("mcp-protocol-version", MODERN), ("mcp-method", "tools/list")], &bare).await;
    assert_eq!(r.expect(400).body["error"]["code"], -32602);
    // Malformed messages: not JSON, a batch, no jsonrpc.
    let r = post(s, Some(k), &[], "{not json").await.expect(400);
    assert_eq!((r.body["error"]["code"].as_i64(), &r.body["id"]), (Some(-32700), &Value::Null));
    let batch = format!("[{body}]");
    assert_eq!(post(s, Some(k), &[], &batch).await.expect(400).body["error"]["code"], -32600);
    assert_eq!(post(s, Some(k), &[], r#"{"id":1,"method":"ping"}"#).await.expect(400).body["error"]["code"], -32600);
    // A tool's failure is a result with isError, not a protocol error.
    let r = call(s, k, "list_meetings", json!({"limit": 500})).await;
    assert_eq!(
        (r["isError"].as_bool(), r["content"][0]["text"].as_str()),
        (Some(true), Some("Invalid arguments: limit must be 1-100"))
    );
    let r = call(s, k, "list_meetings", json!({"startDate": "2000-01-01", "endDate": "not a date"})).await;
    assert_eq!(r["isError"], true);
    let r = call(s, k, "list_meetings", json!({"startDate": "2000-01-01", "status": "ended"})).await;
    assert_eq!(meeting_ids(&r), ["ana-weekly"]);
    assert!(meeting_ids(&call(s, k, "list_meetings", json!({"endDate": "2000-01-01"})).await).is_empty());
}

#[tokio::test]
async fn the_endpoint_refuses_before_reading_the_message() {
    let w = world(&[]).await;
    let (s, k) = (&w.s, w.ana_key.as_str());
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    for m in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let r = s.req(m.clone(), "/mcp", Some(k), None).await;
        assert_eq!(r.status.as_u16(), 405, "{m}: no server stream, no session");
        assert_eq!(r.headers.get("allow").map(|v| v.to_str().unwrap()), Some("POST"), "{m}");
    }
    // No credential, or a bad one: the challenge MCP clients start OAuth from.
    let metadata = format!("resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"", s.base);
    let r = post(s, None, &[], ping).await.expect_error(401, "unauthorized");
    let challenge = r.headers["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains(&metadata) && challenge.contains("scope=\"mcp\""),
        "{challenge}"
    );
    let r = post(s, Some("not-a-token"), &[], ping).await;
    assert_eq!(r.status.as_u16(), 401);
    assert!(r.headers["www-authenticate"].to_str().unwrap().contains("error=\"invalid_token\""));
    // A key without the mcp scope: 403, and the scope it would need.
    let other = key(s, &w.ana, &["meetings", "knowledge", "chat"]).await;
    let r = post(s, Some(&other), &[], ping).await.expect_error(403, "forbidden");
    let c = r.headers["www-authenticate"].to_str().unwrap();
    assert!(c.contains("error=\"insufficient_scope\"") && c.contains("scope=\"mcp\""), "{c}");
    // DNS rebinding: a page of another origin is refused; our own origin is not.
    post(s, Some(k), &[("origin", "http://evil.example")], ping).await.expect_error(403, "cors_rejected");
    post(s, Some(k), &[("origin", &s.base)], ping).await.expect(200);
    // Accept must allow JSON; the body must say it is JSON.
    let raw = |accept: &str, ct: &str| {
        let r = s.http.post(format!("{}/mcp", s.base)).header("x-api-key", k);
        r.header("accept", accept.to_owned()).header("content-type", ct.to_owned()).body(ping).send()
    };
    assert_eq!(raw("text/event-stream", "application/json").await.unwrap().status(), 406);
    assert_eq!(raw("text/html", "application/json").await.unwrap().status(), 406);
    assert_eq!(raw("application/json", "text/plain").await.unwrap().status(), 415);
    // x-api-key works as well as Bearer, and a session token carries mcp too.
    assert_eq!(raw("*/*", "application/json").await.unwrap().status(), 200);
    post(s, Some(&w.ana), &[], ping).await.expect(200);
}

#[tokio::test]
async fn each_key_is_throttled_by_the_edge() {
    let s = TestServer::start_with(&[("edge.api_key_rate", json!(1)), ("edge.api_key_burst", json!(3))]).await;
    s.user("ana@example.com", &[]).await;
    let t = s.token("ana@example.com").await;
    let (k1, k2) = (key(&s, &t, &["mcp"]).await, key(&s, &t, &["mcp"]).await);
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    for _ in 0..3 {
        post(&s, Some(&k1), &[], ping).await.expect(200);
    }
    let r = post(&s, Some(&k1), &[], ping).await.expect_error(429, "rate_limited");
    assert!(r.headers.contains_key("retry-after"));
    post(&s, Some(&k2), &[], ping).await.expect(200);
}

#[tokio::test]
async fn access_is_decided_at_every_call() {
    access_at_every_call(world(&[]).await).await;
}

#[tokio::test]
async fn access_is_decided_at_every_call_on_postgres() {
    let test = "mcp::access_is_decided_at_every_call_on_postgres";
    if let Some(s) = TestServer::start_pg(test, &config(&[])).await {
        access_at_every_call(populate(s).await).await;
    }
}

async fn access_at_every_call(w: World) {
    let s = &w.s;
    let transcript = |key: String, id: &'static str| async move {
        call(s, &key, "get_meeting_transcript", json!({"meetingId": id})).await
    };
    let unknown = transcript(w.bo_key.clone(), "no-such-meeting").await;
    assert_eq!(unknown["isError"], true);
    // Another user's meeting is what an unknown one is, in every id-taking tool.
    assert_eq!(transcript(w.bo_key.clone(), "ana-weekly").await, unknown);
    for format in ["json", "srt"] {
        let r =
            call(s, &w.bo_key, "get_meeting_transcript", json!({"meetingId": "ana-weekly", "format": format})).await;
        assert_eq!(r, unknown, "{format}");
    }
    assert_eq!(meeting_ids(&call(s, &w.bo_key, "list_meetings", json!({})).await), ["bo-private"]);
    // Shared: Bo reads it at once (with the key he had before); unshared: gone at once.
    let users = json!({"users": ["bo@example.com"]});
    s.post("/v1/meetings/ana-weekly/share", Some(&w.ana), users.clone()).await.expect(200);
    let list = call(s, &w.bo_key, "list_meetings", json!({})).await;
    assert_eq!(meeting_ids(&list), ["bo-private", "ana-weekly"]);
    assert_eq!(list["structuredContent"]["meetings"][1]["ownedByYou"], false);
    assert_eq!(transcript(w.bo_key.clone(), "ana-weekly").await["isError"], false);
    s.post("/v1/meetings/ana-weekly/unshare", Some(&w.ana), users).await.expect(200);
    assert_eq!(transcript(w.bo_key.clone(), "ana-weekly").await, unknown);
    assert_eq!(meeting_ids(&call(s, &w.bo_key, "list_meetings", json!({})).await), ["bo-private"]);
    // Knowledge: readable through the group; out of the group, gone at once.
    let search = |ids: Value| {
        let key = w.bo_key.clone();
        async move {
            let mut args = json!({"query": "vacation days"});
            if !ids.is_null() {
                args["knowledgeBaseIds"] = ids;
            }
            call(s, &key, "search_knowledge_base", args).await
        }
    };
    let hit = search(json!([w.kb])).await;
    assert!(hit["structuredContent"]["results"][0]["text"].as_str().unwrap().contains("vacation"), "{hit}");
    assert!(!search(Value::Null).await["structuredContent"]["results"].as_array().unwrap().is_empty());
    s.req(
        reqwest::Method::PUT,
        &format!("/v1/admin/users/{}/groups", w.bo_id),
        Some(&w.admin),
        Some(json!({"groups": []})),
    )
    .await
    .expect(200);
    let gone = search(json!([w.kb])).await;
    assert_eq!(
        (gone["isError"].as_bool(), gone["content"][0]["text"].as_str()),
        (Some(true), Some("Knowledge base not found."))
    );
    assert_eq!(gone, search(json!([uuid::Uuid::new_v4().to_string()])).await);
    assert_eq!(gone, search(json!(["not-an-id"])).await);
    assert_eq!(search(Value::Null).await["structuredContent"]["results"], json!([]));
    // Administrators read every meeting only with a key that carries admin as well.
    let admin_all = key(s, &w.admin, &["mcp", "admin"]).await;
    let admin_mcp = key(s, &w.admin, &["mcp"]).await;
    assert_eq!(call(s, &admin_all, "list_meetings", json!({})).await["structuredContent"]["total"], 2);
    assert_eq!(call(s, &admin_mcp, "list_meetings", json!({})).await["structuredContent"]["total"], 0);
    // A revoked key stops at once.
    let id =
        s.get("/v1/me/api-keys", Some(&w.bo)).await.expect(200).body["items"][0]["id"].as_str().unwrap().to_owned();
    s.delete(&format!("/v1/me/api-keys/{id}"), Some(&w.bo)).await.expect(204);
    post(s, Some(&w.bo_key), &[], r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).await.expect(401);
}

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXkdBjftJeZ4CVP";

async fn oauth_world() -> World {
    let clients = json!([
        {"client_id": "mcp-cli", "redirect_uris": [REDIRECT], "name": "MCP CLI", "mcp": true},
        {"client_id": "wiki", "redirect_uris": [REDIRECT], "name": "Wiki"},
    ]);
    world(&[("auth.oauth_clients", clients)]).await
}

/// The authorization parameters of `client` (Ana consenting), with `extra` ones.
fn code_params(client: &str, extra: &[(&str, &str)]) -> Value {
    let mut p = json!({
        "response_type": "code", "client_id": client, "redirect_uri": REDIRECT, "state": "st",
        "code_challenge": b64(&rampart_crypto::sha256(VERIFIER.as_bytes())), "code_challenge_method": "S256",
        "decision": "approve",
    });
    for (k, v) in extra {
        p[*k] = json!(v);
    }
    p
}

/// A code for `mcp-cli` (Ana consenting), with `extra` authorization parameters.
async fn code(s: &TestServer, ana: &str, extra: &[(&str, &str)]) -> Value {
    let p = code_params("mcp-cli", extra);
    let step = s.post("/oauth2/authorize", Some(ana), p).await.expect(200).body;
    let to = url::Url::parse(step["redirectTo"].as_str().unwrap()).unwrap();
    Value::Object(to.query_pairs().map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect())
}

async fn redeem(s: &TestServer, code: &str, resource: Option<&str>) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", "mcp-cli"),
        ("code_verifier", VERIFIER),
    ];
    form.extend(resource.map(|r| ("resource", r)));
    s.http.post(format!("{}/oauth2/token", s.base)).form(&form).send().await.unwrap()
}

#[tokio::test]
async fn oauth_tokens_granted_for_mcp_work_there_and_nowhere_else() {
    let w = oauth_world().await;
    let s = &w.s;
    let resource = format!("{}/mcp", s.base);
    let prm = s.get("/.well-known/oauth-protected-resource/mcp", None).await.expect(200).body;
    assert_eq!(
        (prm["resource"].as_str(), prm["authorization_servers"][0].as_str()),
        (Some(resource.as_str()), Some(s.base.as_str()))
    );
    let asm = s.get("/.well-known/oauth-authorization-server", None).await.expect(200).body;
    assert_eq!(
        (asm["issuer"].as_str(), asm["code_challenge_methods_supported"][0].as_str()),
        (Some(s.base.as_str()), Some("S256"))
    );
    assert!(asm["scopes_supported"].as_array().unwrap().contains(&json!("mcp")));
    // A client registered for sign-in may not ask for the user's data.
    let asked = code_params("wiki", &[("scope", "openid mcp"), ("resource", &resource)]);
    let step = s.post("/oauth2/authorize", Some(&w.ana), asked).await.expect(200).body;
    assert!(step["redirectTo"].as_str().unwrap().contains("error=invalid_scope"), "{step}");
    // Another resource is refused, at the authorization and the token endpoint.
    let q = code(s, &w.ana, &[("scope", "mcp"), ("resource", "https://elsewhere.example/mcp")]).await;
    assert_eq!(q["error"], "invalid_target");
    let q = code(s, &w.ana, &[("scope", "mcp"), ("resource", &resource)]).await;
    let r = redeem(s, q["code"].as_str().unwrap(), Some("https://elsewhere.example/mcp")).await;
    assert_eq!(r.status(), 400);
    // The MCP grant: an access token bound to /mcp, no ID token (no openid).
    let q = code(s, &w.ana, &[("scope", "mcp"), ("resource", &resource)]).await;
    let tok: Value = redeem(s, q["code"].as_str().unwrap(), Some(&resource)).await.json().await.unwrap();
    assert!(tok.get("id_token").is_none(), "{tok}");
    let at = tok["access_token"].as_str().unwrap();
    let claims = decode_unverified(at);
    assert_eq!((claims["aud"].as_str(), claims["scope"].as_str()), (Some(resource.as_str()), Some("mcp")));
    assert_eq!(meeting_ids(&call(s, at, "list_meetings", json!({})).await), ["ana-weekly"]);
    // Nowhere else: not the API, not UserInfo, not the realtime tickets.
    s.get("/v1/me", Some(at)).await.expect_error(401, "invalid_token");
    s.get("/oauth2/userinfo", Some(at)).await.expect_error(401, "invalid_token");
    s.get("/v1/meetings", Some(at)).await.expect_error(401, "invalid_token");
    // Refreshed, it stays what it was.
    let rt = tok["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", "mcp-cli")];
    let r: Value =
        s.http.post(format!("{}/oauth2/token", s.base)).form(&form).send().await.unwrap().json().await.unwrap();
    assert_eq!(decode_unverified(r["access_token"].as_str().unwrap())["aud"].as_str(), Some(resource.as_str()));
    // An identity-only grant of the same client is not an MCP credential.
    let q = code(s, &w.ana, &[("scope", "openid")]).await;
    let tok: Value = redeem(s, q["code"].as_str().unwrap(), None).await.json().await.unwrap();
    let idt = tok["access_token"].as_str().unwrap();
    s.get("/oauth2/userinfo", Some(idt)).await.expect(200);
    let r = post(s, Some(idt), &[], r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).await.expect_error(403, "forbidden");
    assert!(r.headers["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));
}

/// The SDK's OAuth client (`OAuthClientProvider`) with `mcp-cli` pre-registered: it reads the
/// `401`'s challenge, the protected resource metadata and the authorization server metadata,
/// sends the user to authorize with PKCE and `resource`, redeems the code and retries. The
/// user's browser is played by POSTing to `/oauth2/authorize` as the sign-in page does.
const OAUTH_SCRIPT: &str = r#"
import asyncio, json, os
from urllib.parse import urlparse, parse_qs
import httpx2
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata

E = os.environ
seen = {}

def query(url):
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}

class Memory(TokenStorage):
    def __init__(self):
        self.tokens = None
        self.client = OAuthClientInformationFull(client_id="mcp-cli", redirect_uris=[E["REDIRECT"]],
            token_endpoint_auth_method="none", grant_types=["authorization_code", "refresh_token"])
    async def get_tokens(self): return self.tokens
    async def set_tokens(self, t): self.tokens = t
    async def get_client_info(self): return self.client
    async def set_client_info(self, c): self.client = c

async def browser(url):
    q = query(url)
    seen["authorize"] = q
    async with httpx2.AsyncClient() as h:
        seen["entry"] = (await h.get(url)).status_code
        r = await h.post(E["BASE"] + "/oauth2/authorize", json={**q, "decision": "approve"},
                         headers={"Authorization": "Bearer " + E["SESSION"]})
        seen["redirect"] = r.json()["redirectTo"]

async def callback():
    q = query(seen["redirect"])
    return AuthorizationCodeResult(code=q["code"], state=q.get("state"), iss=q.get("iss"))

async def main():
    store = Memory()
    meta = OAuthClientMetadata(redirect_uris=[E["REDIRECT"]], token_endpoint_auth_method="none",
                               grant_types=["authorization_code", "refresh_token"], client_name="MCP CLI")
    auth = OAuthClientProvider(E["BASE"] + "/mcp", meta, store, redirect_handler=browser, callback_handler=callback)
    http = httpx2.AsyncClient(auth=auth, timeout=30)
    async with http, Client(streamable_http_client(E["BASE"] + "/mcp", http_client=http)) as c:
        tools = [t.name for t in (await c.list_tools()).tools]
        r = await c.call_tool("list_meetings", {})
        print(json.dumps({"version": c.protocol_version, "tools": tools, "list": r.structured_content, "seen": seen,
                          "token": store.tokens.access_token}))

asyncio.run(main())
"#;

#[tokio::test]
async fn the_python_sdk_signs_in_through_oauth() {
    let Some(python) = python_with_mcp("the_python_sdk_signs_in_through_oauth") else { return };
    let w = oauth_world().await;
    let env = [("BASE", w.s.base.as_str()), ("SESSION", &w.ana), ("REDIRECT", REDIRECT)];
    let v = run_python(&python, OAUTH_SCRIPT, &env).await;
    let a = &v["seen"]["authorize"];
    let resource = format!("{}/mcp", w.s.base);
    assert_eq!((a["scope"].as_str(), a["resource"].as_str()), (Some("mcp"), Some(resource.as_str())), "{a}");
    assert_eq!((a["code_challenge_method"].as_str(), v["seen"]["entry"].as_i64()), (Some("S256"), Some(303)));
    assert_eq!(v["version"], MODERN);
    assert_eq!(v["tools"].as_array().unwrap().len(), 5);
    assert_eq!(v["list"]["meetings"][0]["meetingId"], "ana-weekly");
    let token = v["token"].as_str().unwrap();
    assert_eq!(decode_unverified(token)["aud"].as_str(), Some(resource.as_str()));
    w.s.get("/v1/me", Some(token)).await.expect_error(401, "invalid_token");
}
