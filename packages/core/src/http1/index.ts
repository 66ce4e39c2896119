/**
 * HTTP/1.1 parsing for a raw-socket relay: request and response heads and chunked bodies, refusing
 * exactly what node:http refuses, reporting boundaries so body bytes can be forwarded as received.
 */
export {
  ChunkedDecoder,
  type ChunkedDecoderOptions,
  DEFAULT_MAX_CHUNK_EXTENSIONS_SIZE,
} from './chunked-decoder.js';
export {
  type BodyFraming,
  DEFAULT_MAX_HEAD_SIZE,
  DEFAULT_MAX_HEADER_COUNT,
  type HeadParserOptions,
  type MessageHead,
} from './head-parser.js';
export {
  FAILED,
  FLAG_CHUNKED,
  FLAG_CONNECTION_CLOSE,
  FLAG_CONNECTION_KEEP_ALIVE,
  FLAG_CONNECTION_UPGRADE,
  FLAG_CONTENT_LENGTH,
  FLAG_TRANSFER_ENCODING,
  FLAG_UPGRADE,
  NEED_MORE,
} from './head-scanner.js';
export { type ParseVerdict, VERDICTS } from './parse-verdict.js';
export {
  type RequestHead,
  RequestHeadParser,
  type RequestHeadParserOptions,
} from './request-head-parser.js';
export {
  type ResponseHead,
  ResponseHeadParser,
  type ResponseHeadParserOptions,
} from './response-head-parser.js';
