#![expect(clippy::unwrap_used, reason = "a test fails at the first broken step")]

//! Meetings' passages (meeting search), on SQLite and PostgreSQL: who may search which meeting,
//! read at every call; passages replaced by kind; removed with the transcript and the meeting.

use rampart_core::{MeetingKey, PassageId, Timestamp, UserId};
use rampart_storage::Db;
use rampart_storage::repo::meeting_passages::NewPassage;
use rampart_storage::repo::meetings::{MeetingAccess, MeetingUpdate, NewMeeting};
use rampart_storage::repo::users::NewUser;

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[tokio::test] async fn $name() { let t = rampart_testkit::TestDb::sqlite().await; super::$name(&t.db).await; t.cleanup().await; })* }
        mod postgres { $(#[tokio::test] async fn $name() { if let Some(t) = rampart_testkit::TestDb::postgres(concat!("postgres::", stringify!($name))).await { super::$name(&t.db).await; t.cleanup().await; } })* }
    };
}

both!(searchable_meetings_follow_shares_and_passages_follow_their_meeting);

const T0: Timestamp = Timestamp::from_millis(1_700_000_000_000);

async fn user(db: &Db, email: &str) -> UserId {
    let u = NewUser { email, display_name: "Test", password_hash: Some("h"), groups: &[], external: None };
    db.create_user(&u, T0).await.unwrap().id
}

/// An ended meeting of `owner`, started `day` days after T0.
async fn meeting(db: &Db, owner: UserId, day: u64) -> MeetingKey {
    let id = MeetingKey::new();
    let started = T0.plus(std::time::Duration::from_secs(day * 86_400));
    let m = NewMeeting {
        id,
        call_key: &id.to_string(),
        sealed_call_id: b"c",
        owner_id: owner,
        source: "live",
        status: "live",
        sealed_details: b"d",
        sample_rate: 16_000,
        channels: 2,
        recording_status: "none",
        recording_chunk_bytes: 0,
        started_at: started,
    };
    db.create_meeting(&m).await.unwrap();
    let u = MeetingUpdate {
        status: "ended",
        ended_at: Some(started),
        duration_ms: 1000,
        recording_status: "none",
        recording_bytes: 0,
        recording_chunks: 0,
        now: started,
    };
    db.update_meeting_state(id, &u).await.unwrap();
    id
}

fn passages(n: usize, vectors: bool) -> Vec<NewPassage> {
    (0..n)
        .map(|i| NewPassage {
            id: PassageId::new(),
            ordinal: i as i64,
            channel: Some("CALLER".into()),
            start_ms: Some(i as i64 * 1000),
            end_ms: Some(i as i64 * 1000 + 900),
            body: vec![i as u8; 4],
            embedding: vectors.then(|| ("embed".to_owned(), vec![1, 2, 3, 4])),
        })
        .collect()
}

async fn searchable_meetings_follow_shares_and_passages_follow_their_meeting(db: &Db) {
    let (ana, bo) = (user(db, "ana@example.com").await, user(db, "bo@example.com").await);
    let (a, b) = (meeting(db, ana, 0).await, meeting(db, bo, 10).await);
    let unindexed = meeting(db, bo, 20).await;
    let mut todo = db.meetings_to_index(T0.plus(std::time::Duration::from_secs(100 * 86_400)), 10).await.unwrap();
    todo.sort();
    let mut all = vec![a, b, unindexed];
    all.sort();
    assert_eq!(todo, all, "ended meetings never indexed");
    assert!(db.meetings_to_index(T0, 10).await.unwrap().is_empty(), "none ended before T0: their ends index them");
    let pa = passages(3, true);
    assert!(db.replace_meeting_passages(a, "transcript", &pa, T0).await.unwrap());
    assert!(db.replace_meeting_passages(b, "transcript", &passages(2, false), T0).await.unwrap());
    assert!(db.replace_meeting_passages(b, "summary", &passages(1, false), T0).await.unwrap());
    assert!(!db.replace_meeting_passages(MeetingKey::new(), "transcript", &passages(1, false), T0).await.unwrap());
    assert_eq!(
        db.meetings_to_index(T0.plus(std::time::Duration::from_secs(100 * 86_400)), 10).await.unwrap(),
        vec![unindexed]
    );
    assert_eq!(db.passage_count().await.unwrap(), 6);

    // Who may search what: read at every call.
    let as_ana = MeetingAccess::User(ana);
    assert_eq!(db.searchable_meetings(as_ana, None, None).await.unwrap(), vec![a]);
    db.share_meeting(b, &[ana], T0).await.unwrap();
    let mut both = db.searchable_meetings(as_ana, None, None).await.unwrap();
    both.sort();
    let mut ab = vec![a, b];
    ab.sort();
    assert_eq!(both, ab, "shared: searchable at once");
    let day5 = T0.plus(std::time::Duration::from_secs(5 * 86_400));
    assert_eq!(db.searchable_meetings(as_ana, Some(day5), None).await.unwrap(), vec![b], "by start date");
    assert_eq!(db.searchable_meetings(as_ana, None, Some(day5)).await.unwrap(), vec![a]);
    db.unshare_meeting(b, &[ana]).await.unwrap();
    assert_eq!(db.searchable_meetings(as_ana, None, None).await.unwrap(), vec![a], "unshared: gone at once");
    assert_eq!(db.searchable_meetings(MeetingAccess::Anyone, None, None).await.unwrap().len(), 2);

    // Passages and meetings only if readable.
    let ids: Vec<PassageId> = pa.iter().map(|p| p.id).collect();
    assert_eq!(db.passages_in(as_ana, &ids).await.unwrap().len(), 3);
    assert!(db.passages_in(MeetingAccess::User(bo), &ids).await.unwrap().is_empty());
    assert_eq!(db.passages_in(MeetingAccess::Anyone, &ids).await.unwrap().len(), 3);
    assert_eq!(db.meetings_in(as_ana, &[a, b]).await.unwrap().iter().map(|m| m.id).collect::<Vec<_>>(), vec![a]);
    let got = db.meeting_passages(b).await.unwrap();
    assert_eq!(got.iter().map(|p| p.kind.as_str()).collect::<Vec<_>>(), ["summary", "transcript", "transcript"]);
    assert_eq!(db.passages_after(None, 100).await.unwrap().len(), 6);

    // Vectors.
    assert_eq!(db.passage_vector_counts().await.unwrap(), vec![(a, "embed".to_owned(), 3)]);
    assert_eq!(db.passage_vectors(Some(a)).await.unwrap().len(), 3);
    assert!(db.passage_vectors(Some(b)).await.unwrap().is_empty());

    // A summary replaced leaves the transcript; retention's transcript removal takes the summary
    // and every passage, and passages made from them meanwhile are not stored; deleting the
    // meeting removes the rest.
    assert!(db.replace_meeting_passages(b, "summary", &passages(2, false), T0).await.unwrap());
    assert_eq!(db.meeting_passages(b).await.unwrap().len(), 4);
    db.delete_transcript(b, T0).await.unwrap();
    assert!(db.meeting_passages(b).await.unwrap().is_empty());
    assert!(!db.replace_meeting_passages(b, "transcript", &passages(2, true), T0).await.unwrap());
    assert!(!db.replace_meeting_passages(b, "summary", &passages(2, false), T0).await.unwrap());
    assert!(db.meeting_passages(b).await.unwrap().is_empty());
    db.delete_meeting(None, b).await.unwrap();
    assert!(db.meeting_passages(b).await.unwrap().is_empty());
    db.delete_meeting(None, a).await.unwrap();
    assert_eq!(db.passage_count().await.unwrap(), 0);
}
