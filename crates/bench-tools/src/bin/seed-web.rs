//! Seeds a data directory for the web benchmark (bench/web-load.sh): one administrator whose
//! chat session holds `--messages` messages, and `--users` more users (stored directly, with a
//! placeholder password hash: they are listed, never signed in). Prints
//! `{"email", "password", "sessionId"}` as JSON.

#![expect(clippy::print_stdout, reason = "a command-line tool writes its results and errors to the terminal")]

use clap::Parser;
use rampart_core::error::PublicError as _;
use rampart_core::{SessionId, Timestamp};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    data_dir: String,
    #[arg(long, default_value_t = 2000)]
    messages: usize,
    #[arg(long, default_value_t = 10_000)]
    users: usize,
}

const PASSWORD: &str = "bench web passphrase";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let st = rampart_bench_tools::seeding_state(&a.data_dir).await?;
    let meta = rampart_identity::RequestMeta::default();
    let email = "bench-admin@example.com";
    let c = st
        .identity
        .create_user(None, email, Some(PASSWORD), &["admin".to_owned()], Some("Bench Admin"), &meta)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.public_message()))?;
    let uid = c.user.id;
    let sid = SessionId::new();
    let reply = "Staff get **25 days** of annual leave.\n\n- Carry-over: 5 days\n- Expiry: March\n\n```rust\nfn days() -> u32 { 25 }\n```";
    for i in 0..a.messages / 2 {
        st.chat.add_user_message(uid, sid, "default", &format!("Question {i}: how much leave?")).await?;
        st.chat.add_assistant_message(uid, sid, reply, None, "bench", 42).await?;
    }
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    for i in 0..a.users {
        let e = format!("user{i:05}@example.com");
        let nu = rampart_storage::repo::users::NewUser {
            email: &e,
            display_name: "Bench User",
            password_hash: Some("!"),
            groups: &[],
            external: None,
        };
        st.db.create_user(&nu, now).await?;
    }
    st.db.close().await;
    println!("{}", serde_json::json!({"email": email, "password": PASSWORD, "sessionId": sid.to_string()}));
    Ok(())
}
