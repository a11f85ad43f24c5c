import { describe, expect, it } from 'vitest';
import { bytes, when } from '../../src/lib/format';

describe('bytes', () => {
  it('counts in powers of 1,024 with one decimal above bytes', () => {
    expect(bytes(0)).toBe('0 B');
    expect(bytes(1023)).toBe('1023 B');
    expect(bytes(1024)).toBe('1.0 KB');
    expect(bytes(1536)).toBe('1.5 KB');
    expect(bytes(5 * 1024 ** 3)).toBe('5.0 GB');
    expect(bytes(3 * 1024 ** 5)).toBe('3072.0 TB');
  });
});

describe('when', () => {
  it('shows a moment in the local format, and a dash for none', () => {
    expect(when('2025-03-01T12:30:00Z')).toBe(new Date('2025-03-01T12:30:00Z').toLocaleString());
    expect(when(null)).toBe('—');
    expect(when(undefined)).toBe('—');
    expect(when('')).toBe('—');
  });
});
