//! Channels: `/in/{userId}/{sessionId}` (clients publish) and `/out/{userId}/{sessionId}`
//! (clients subscribe), GAIA's layout (seed 002); `/meetings/{meetingKey}` (a meeting's events)
//! and `/user-meetings/{userId}` (changes of a user's meetings list). Segments follow AppSync's
//! rules: 1–5 of `[A-Za-z0-9-]`, 1–50 characters; the leading `/` is optional.

use rampart_core::{MeetingKey, SessionId, UserId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    In,
    Out,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    pub kind: ChannelKind,
    pub user: UserId,
    pub session: SessionId,
}

/// Why a channel string was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum ChannelError {
    /// Not a valid AppSync channel path (`BadRequestException`).
    Malformed,
    /// A valid path that is not one of ours (`UnauthorizedException`).
    Unknown,
}

fn segment_ok(s: &str) -> bool {
    (1..=50).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Channel {
    pub fn parse(raw: &str) -> Result<Channel, ChannelError> {
        let path = raw.strip_prefix('/').unwrap_or(raw);
        let segs: Vec<&str> = path.split('/').collect();
        if segs.is_empty() || segs.len() > 5 || !segs.iter().all(|s| segment_ok(s)) {
            return Err(ChannelError::Malformed);
        }
        let kind = match segs.first() {
            Some(&"in") => ChannelKind::In,
            Some(&"out") => ChannelKind::Out,
            _ => return Err(ChannelError::Unknown),
        };
        if segs.len() != 3 {
            return Err(ChannelError::Unknown);
        }
        let user = UserId::parse(segs[1]).ok_or(ChannelError::Unknown)?;
        let session = SessionId::parse(segs[2]).ok_or(ChannelError::Unknown)?;
        Ok(Channel { kind, user, session })
    }

    /// The canonical form used as the hub key.
    pub fn key(&self) -> String {
        let k = match self.kind {
            ChannelKind::In => "in",
            ChannelKind::Out => "out",
        };
        format!("/{k}/{}/{}", self.user, self.session)
    }

    pub fn out_of(user: UserId, session: SessionId) -> Channel {
        Channel { kind: ChannelKind::Out, user, session }
    }
}

/// Any channel a client may name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyChannel {
    Chat(Channel),
    /// A meeting's events.
    Meeting(MeetingKey),
    /// A user's meetings list.
    UserMeetings(UserId),
}

impl AnyChannel {
    pub fn parse(raw: &str) -> Result<AnyChannel, ChannelError> {
        let path = raw.strip_prefix('/').unwrap_or(raw);
        let segs: Vec<&str> = path.split('/').collect();
        if segs.is_empty() || segs.len() > 5 || !segs.iter().all(|s| segment_ok(s)) {
            return Err(ChannelError::Malformed);
        }
        match segs.as_slice() {
            ["meetings", key] => MeetingKey::parse(key).map(AnyChannel::Meeting).ok_or(ChannelError::Unknown),
            ["user-meetings", user] => UserId::parse(user).map(AnyChannel::UserMeetings).ok_or(ChannelError::Unknown),
            ["meetings" | "user-meetings", ..] => Err(ChannelError::Unknown),
            _ => Channel::parse(raw).map(AnyChannel::Chat),
        }
    }

    /// The canonical form used as the hub key.
    pub fn key(&self) -> String {
        match self {
            AnyChannel::Chat(c) => c.key(),
            AnyChannel::Meeting(k) => format!("/meetings/{k}"),
            AnyChannel::UserMeetings(u) => format!("/user-meetings/{u}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meeting_channels() {
        let k = MeetingKey::new();
        let u = UserId::new();
        assert_eq!(AnyChannel::parse(&format!("/meetings/{k}")), Ok(AnyChannel::Meeting(k)));
        assert_eq!(
            AnyChannel::parse(&format!("user-meetings/{u}")).map(|c| c.key()),
            Ok(format!("/user-meetings/{u}"))
        );
        assert_eq!(AnyChannel::parse("/meetings/not-a-key"), Err(ChannelError::Unknown));
        assert_eq!(AnyChannel::parse(&format!("/meetings/{k}/x")), Err(ChannelError::Unknown));
        assert_eq!(AnyChannel::parse("/meetings/a b"), Err(ChannelError::Malformed));
        assert!(matches!(AnyChannel::parse(&format!("/out/{u}/{}", SessionId::new())), Ok(AnyChannel::Chat(_))));
    }
    #[test]
    fn parses_our_channels_and_refuses_others() {
        let (u, s) = (UserId::new(), SessionId::new());
        let c = Channel::parse(&format!("/out/{u}/{s}")).unwrap();
        assert_eq!((c.kind, c.user, c.session), (ChannelKind::Out, u, s));
        assert_eq!(Channel::parse(&format!("in/{u}/{s}")).unwrap().kind, ChannelKind::In);
        assert_eq!(Channel::parse("/out/x y/z"), Err(ChannelError::Malformed));
        assert_eq!(Channel::parse("/a/b/c/d/e/f"), Err(ChannelError::Malformed));
        assert_eq!(Channel::parse(&format!("/default/{u}/{s}")), Err(ChannelError::Unknown));
        assert_eq!(Channel::parse(&format!("/out/{u}")), Err(ChannelError::Unknown));
        assert_eq!(Channel::parse("/out/not-a-uuid/also-not"), Err(ChannelError::Unknown));
    }
}
