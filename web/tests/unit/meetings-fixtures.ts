// Meetings and segments for the meetings tests.
import type { MeetingView, Segment } from '../../src/lib/meetings';

export function seg(id: string, start: number, text: string, over: Partial<Segment> = {}): Segment {
  return { SegmentId: id, Channel: 'CALLER', Speaker: 'Them', StartTime: start, EndTime: start + 1, Transcript: text, IsPartial: false, ...over };
}

export function meeting(id: string, startedAt: string, over: Partial<MeetingView> = {}): MeetingView {
  return {
    id,
    key: `k-${id}`,
    channel: `/meetings/k-${id}`,
    title: id,
    participants: { caller: 'Them', agent: 'Me', speakers: [] },
    ownerId: 'u1',
    source: 'live',
    status: 'ended',
    startedAt,
    durationSecs: 60,
    sampleRate: 48000,
    channels: 2,
    recording: { status: 'none', bytes: 0, durationSecs: 0 },
    transcriptAvailable: true,
    ...over,
  };
}
