//! Searching past meetings: the meetings the caller may read (read from the database now) are
//! the scopes of the lexical query and the only graphs the dense search walks; both rankings
//! are fused by reciprocal rank; the passages are read back only from meetings the caller may
//! still read, grouped by meeting, best first. Also the recent-meetings list, and both as the
//! `core::meetings::PastMeetings` port.

use super::MeetingIndex;
use crate::error::{MeetingError, Result};
use crate::service::{MeetingService, access};
use crate::views::MeetingView;
use rampart_core::embed::{BoxFuture, EmbedPurpose};
use rampart_core::error::PublicError;
use rampart_core::meetings::{
    MeetingHit, MeetingRef, MeetingSearchQuery, PassageHit, PassageKind, PastMeetings, PastMeetingsError,
};
use rampart_core::{MeetingKey, PageRequest, PassageId, Principal, Timestamp};
use rampart_storage::repo::meeting_passages::PassageRecord;
use rampart_storage::repo::meetings::{MeetingAccess, MeetingFilter};
use std::collections::HashMap;

/// Longest query.
pub const MAX_QUERY_CHARS: usize = 1000;
/// Most meetings one search returns.
pub const MAX_RESULTS: usize = 50;
/// Passages shown per meeting.
const PASSAGES_PER_MEETING: usize = 3;
/// Nearest passages less similar than this (cosine) are left out: a search lists the meetings
/// that match, not the nearest of all of them (unrelated sentences score about 0-0.15 with
/// sentence-embedding models, paraphrases 0.5 and more).
const MIN_SIMILARITY: f32 = 0.2;

/// What is wrong with a query, if anything.
fn check(q: &MeetingSearchQuery) -> Result<()> {
    let n = q.query.trim().chars().count();
    if n == 0 || q.query.chars().count() > MAX_QUERY_CHARS {
        return Err(MeetingError::Invalid(format!("The query must be 1-{MAX_QUERY_CHARS} characters.")));
    }
    if !(1..=MAX_RESULTS).contains(&q.max_results) {
        return Err(MeetingError::Invalid(format!("The number of results must be 1-{MAX_RESULTS}.")));
    }
    if let (Some(a), Some(b)) = (q.start, q.end)
        && a >= b
    {
        return Err(MeetingError::Invalid("The start date must be before the end date.".into()));
    }
    Ok(())
}

/// A meeting as search results and lists name it.
pub fn meeting_ref(v: &MeetingView) -> MeetingRef {
    MeetingRef {
        id: v.id.clone(),
        key: v.key,
        title: v.title.clone(),
        started_at: v.started_at,
        ended_at: v.ended_at,
        duration_secs: v.duration_secs,
        owner_id: v.owner_id,
        status: v.status.as_str().to_owned(),
    }
}

/// One meeting's passages while results are gathered.
struct Group<'a> {
    meeting: MeetingKey,
    passages: Vec<(&'a PassageRecord, f32)>,
}

/// Groups ranked passages by meeting, in the order of each meeting's best passage: at most
/// `max` meetings, [`PASSAGES_PER_MEETING`] passages each.
fn group<'a>(ranked: &[(PassageId, f32)], rows: &'a [PassageRecord], max: usize) -> Vec<Group<'a>> {
    let by_id: HashMap<PassageId, &PassageRecord> = rows.iter().map(|r| (r.id, r)).collect();
    let mut groups: Vec<Group<'a>> = Vec::new();
    for (id, score) in ranked {
        let Some(r) = by_id.get(id) else { continue };
        match groups.iter().position(|g| g.meeting == r.meeting_id) {
            Some(i) if groups[i].passages.len() < PASSAGES_PER_MEETING => groups[i].passages.push((r, *score)),
            Some(_) => {}
            None if groups.len() < max => groups.push(Group { meeting: r.meeting_id, passages: vec![(r, *score)] }),
            None => {}
        }
    }
    groups
}

impl MeetingService {
    /// The caller's meetings (theirs, those shared with them; administrators: all) whose
    /// transcript or summary matches `q`, best first, each with its best passages.
    pub async fn search(&self, p: &Principal, q: &MeetingSearchQuery) -> Result<Vec<MeetingHit>> {
        check(q)?;
        let Some(ix) = self.search_index().cloned() else { return Ok(Vec::new()) };
        // An administrator with no date range may read every meeting: no scopes' clause to
        // build (a posting list per meeting). Otherwise the meetings the caller may read now.
        let everything = matches!(access(p), MeetingAccess::Anyone) && q.start.is_none() && q.end.is_none();
        let scopes =
            if everything { None } else { Some(self.db().searchable_meetings(access(p), q.start, q.end).await?) };
        let depth = (q.max_results * 10).clamp(50, 500);
        let lexical = match &scopes {
            Some(s) => ix.lexical.search(&q.query, s, depth)?,
            None => ix.lexical.search_everywhere(&q.query, depth)?,
        };
        let dense = self.dense_hits(&ix, &q.query, scopes.as_deref(), depth).await?;
        let ranked = if dense.is_empty() {
            lexical
        } else {
            let l: Vec<PassageId> = lexical.iter().map(|h| h.0).collect();
            let d: Vec<PassageId> = dense.iter().map(|h| h.0).collect();
            rampart_index::fuse::rrf(&[&l, &d], rampart_index::fuse::RRF_K)
        };
        self.hits(p, &ranked, q.max_results).await
    }

    /// Nearest passages in the allowed meetings' graphs (`None`: every graph); none without a
    /// model, or when the query cannot be embedded (logged: lexical results only).
    async fn dense_hits(
        &self,
        ix: &MeetingIndex,
        query: &str,
        allowed: Option<&[MeetingKey]>,
        depth: usize,
    ) -> Result<Vec<(PassageId, f32)>> {
        let Some(model) = ix.model.as_deref() else { return Ok(Vec::new()) };
        let Some(e) = ix.models.embedder(model) else { return Ok(Vec::new()) };
        let every: Vec<MeetingKey>;
        let allowed = match allowed {
            Some(a) => a,
            None => {
                every = ix.dense.counts().into_keys().collect();
                &every
            }
        };
        match rampart_index::embed::embed_all(e.as_ref(), &[query.to_owned()], EmbedPurpose::Query).await {
            Ok(v) if v.len() == 1 => {
                let mut hits = ix.dense.search(&v[0], model, allowed, depth)?;
                hits.retain(|h| h.1 >= MIN_SIMILARITY);
                Ok(hits)
            }
            Ok(_) => Ok(Vec::new()),
            Err(err) => {
                tracing::warn!(model = %model, error = %err, "query embedding failed; meetings searched lexically");
                Ok(Vec::new())
            }
        }
    }

    /// The results of a ranking: passages read back only from meetings the caller may read
    /// now, grouped by meeting.
    async fn hits(&self, p: &Principal, ranked: &[(PassageId, f32)], max: usize) -> Result<Vec<MeetingHit>> {
        let ids: Vec<PassageId> = ranked.iter().map(|h| h.0).collect();
        let rows = self.db().passages_in(access(p), &ids).await?;
        let groups = group(ranked, &rows, max);
        let keys: Vec<MeetingKey> = groups.iter().map(|g| g.meeting).collect();
        let meetings = self.db().meetings_in(access(p), &keys).await?;
        let mut out = Vec::with_capacity(groups.len());
        for g in groups {
            let Some(rec) = meetings.iter().find(|m| m.id == g.meeting) else { continue };
            let meeting = meeting_ref(&self.view(&self.open(rec.clone())?)?);
            let mut passages = Vec::with_capacity(g.passages.len());
            for (r, score) in g.passages {
                let body = self.open_passage(r.meeting_id, r.id, &r.body)?;
                passages.push(PassageHit {
                    id: r.id,
                    kind: PassageKind::parse(&r.kind).unwrap_or(PassageKind::Transcript),
                    start_ms: r.start_ms,
                    end_ms: r.end_ms,
                    channel: r.channel.clone(),
                    speaker: body.speaker,
                    text: body.text,
                    score,
                });
            }
            out.push(MeetingHit { meeting, score: passages.first().map_or(0.0, |x| x.score), passages });
        }
        Ok(out)
    }

    /// The caller's most recent meetings started in `[start, end)`, newest first.
    pub async fn recent(
        &self,
        p: &Principal,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<MeetingRef>> {
        if !(1..=100).contains(&limit) {
            return Err(MeetingError::Invalid("The number of meetings must be 1-100.".into()));
        }
        let filter = MeetingFilter { from: start, to: end, status: None };
        let page = PageRequest { limit: u32::try_from(limit).ok(), cursor: None };
        let (pg, _) = self.list(p, &filter, &page).await?;
        Ok(pg.items.iter().map(meeting_ref).collect())
    }
}

/// What the port's callers may be told of an error (the detail of a server error is logged).
fn port_error(e: MeetingError) -> PastMeetingsError {
    if e.code().http_status() >= 500 {
        tracing::error!(error = %e, "past meetings: a call failed");
    }
    PastMeetingsError { code: e.code(), message: e.public_message() }
}

impl PastMeetings for MeetingService {
    fn search<'a>(
        &'a self,
        p: &'a Principal,
        q: &'a MeetingSearchQuery,
    ) -> BoxFuture<'a, std::result::Result<Vec<MeetingHit>, PastMeetingsError>> {
        Box::pin(async move { MeetingService::search(self, p, q).await.map_err(port_error) })
    }

    fn recent<'a>(
        &'a self,
        p: &'a Principal,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
        limit: usize,
    ) -> BoxFuture<'a, std::result::Result<Vec<MeetingRef>, PastMeetingsError>> {
        Box::pin(async move { MeetingService::recent(self, p, start, end, limit).await.map_err(port_error) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(query: &str, n: usize) -> MeetingSearchQuery {
        MeetingSearchQuery { query: query.into(), start: None, end: None, max_results: n }
    }

    #[test]
    fn bad_queries_are_refused_with_what_is_wrong() {
        assert!(check(&q("budget", 10)).is_ok());
        for bad in [q("  ", 10), q(&"x".repeat(MAX_QUERY_CHARS + 1), 10), q("budget", 0), q("budget", 51)] {
            assert!(matches!(check(&bad), Err(MeetingError::Invalid(_))), "{bad:?}");
        }
        let t = Timestamp::from_millis(1000);
        let backwards = MeetingSearchQuery { start: Some(t), end: Some(t), ..q("budget", 10) };
        assert!(matches!(check(&backwards), Err(MeetingError::Invalid(_))));
    }

    #[test]
    fn passages_are_grouped_by_meeting_in_rank_order() {
        let (a, b, c) = (MeetingKey::new(), MeetingKey::new(), MeetingKey::new());
        let row = |m: MeetingKey| PassageRecord {
            id: PassageId::new(),
            meeting_id: m,
            kind: "transcript".into(),
            ordinal: 0,
            channel: None,
            start_ms: None,
            end_ms: None,
            body: Vec::new(),
        };
        let rows: Vec<PassageRecord> = [a, b, a, a, a, c].iter().map(|m| row(*m)).collect();
        let mut ranked: Vec<(PassageId, f32)> = rows.iter().enumerate().map(|(i, r)| (r.id, 10.0 - i as f32)).collect();
        ranked.insert(1, (PassageId::new(), 9.5));
        let g = group(&ranked, &rows, 2);
        assert_eq!(g.iter().map(|g| g.meeting).collect::<Vec<_>>(), vec![a, b], "at most two meetings, best first");
        assert_eq!(g[0].passages.len(), PASSAGES_PER_MEETING, "at most three passages each");
        assert_eq!(g[0].passages[0].1, 10.0);
        assert_eq!(g[1].passages.len(), 1, "an id the database does not have (any more) is skipped");
    }
}
