import { describe, expect, it } from 'vitest';
import { bytes } from '../../src/lib/format';

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
