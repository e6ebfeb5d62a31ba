// RFC 9113 §6.5.2 settings, and RFC 8441's SETTINGS_ENABLE_CONNECT_PROTOCOL.
export const HEADER_TABLE_SIZE: u32 = 0x1;
export const ENABLE_PUSH: u32 = 0x2;
export const MAX_CONCURRENT_STREAMS: u32 = 0x3;
export const INITIAL_WINDOW_SIZE: u32 = 0x4;
export const MAX_FRAME_SIZE: u32 = 0x5;
export const MAX_HEADER_LIST_SIZE: u32 = 0x6;
export const ENABLE_CONNECT_PROTOCOL: u32 = 0x8;

export const DEFAULT_WINDOW: i32 = 65535;
export const MAX_WINDOW: i64 = 0x7fffffff;
export const MIN_MAX_FRAME_SIZE: u32 = 16384;
export const MAX_MAX_FRAME_SIZE: u32 = 16777215;

/** One side's settings. Unlimited values are u32 max, as the RFC's "initial value: unlimited". */
export class Settings {
  headerTableSize: u32 = 4096;
  enablePush: u32 = 1;
  maxConcurrentStreams: u32 = 0xffffffff;
  initialWindowSize: u32 = <u32>DEFAULT_WINDOW;
  maxFrameSize: u32 = MIN_MAX_FRAME_SIZE;
  maxHeaderListSize: u32 = 0xffffffff;
  enableConnectProtocol: u32 = 0;
}
