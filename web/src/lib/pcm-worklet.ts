// The audio worklet of the Stream Audio page (built by Vite as its own file and loaded from
// this origin, as the CSP's `script-src 'self'` allows): input 0 is the meeting (a shared
// tab's audio, mixed down to mono), input 1 the microphone; every 100 ms it posts a chunk of
// 16-bit little-endian PCM with the two channels interleaved, and the peaks for the meters.
// An input with nothing connected is silence. Messages in: `flush` (post what is collected,
// then `flushed`), `stop` (end processing).

import { FrameAssembler, framesPer100ms } from './audio';

// The AudioWorkletGlobalScope's names (not in TypeScript's DOM library).
declare const sampleRate: number;
declare function registerProcessor(name: string, ctor: new () => object): void;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}

class PcmProcessor extends AudioWorkletProcessor {
  private assembler = new FrameAssembler(framesPer100ms(sampleRate));
  private running = true;

  constructor() {
    super();
    this.port.onmessage = (e: MessageEvent) => {
      if (e.data === 'flush') {
        const c = this.assembler.flush();
        if (c) this.port.postMessage(c, [c.pcm]);
        this.port.postMessage('flushed');
      } else if (e.data === 'stop') {
        this.running = false;
      }
    };
  }

  process(inputs: Float32Array[][]): boolean {
    const meeting = inputs[0]?.[0];
    const mic = inputs[1]?.[0];
    const n = meeting?.length || mic?.length || 128;
    for (const c of this.assembler.push(meeting, mic, n)) this.port.postMessage(c, [c.pcm]);
    return this.running;
  }
}

registerProcessor('rampart-pcm', PcmProcessor);
