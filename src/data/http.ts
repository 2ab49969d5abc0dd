// HTTP GETs to a hub or mirror that may be slow, flaky or lying: the time limits, the retries
// and the error messages every download and listing shares.
// Promise: no request waits forever. The response must start within the timeout, and its body
// must keep moving (at least STALL_BYTES per timeout window, so a server that trickles a byte
// every few seconds counts as stalled). Every failure says its cause (ECONNREFUSED, ENOTFOUND,
// a timeout, an HTTP status), never a bare `fetch failed`, for the caller to put after the URL;
// the transient ones (timeouts, dropped connections, HTTP 429 and 5xx) are retried with backoff.
//
// Settings, from the environment or per call:
//   TSGRAD_HTTP_TIMEOUT      seconds to wait for an answer, and the stall window (default 30)
//   TSGRAD_HTTP_RETRIES      retries after a transient failure (default 4)
//   TSGRAD_HTTP_RETRY_DELAY  seconds before the first retry, doubling each time (default 1)

export interface HttpPolicy {
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
}

/** A body that brings fewer bytes than this in one timeout window has stalled. */
export const STALL_BYTES = 1024;

function envNumber(name: string, fallback: number, integer: boolean): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw new Error(`${name} must be a ${integer ? 'whole number' : 'number of seconds'} ≥ 0, got '${raw}'`);
  }
  return v;
}

/** The environment's settings (see the file header), with `overrides` on top. */
export function httpPolicy(overrides: Partial<HttpPolicy> = {}): HttpPolicy {
  return {
    timeoutMs: 1000 * envNumber('TSGRAD_HTTP_TIMEOUT', 30, false),
    retries: envNumber('TSGRAD_HTTP_RETRIES', 4, true),
    retryDelayMs: 1000 * envNumber('TSGRAD_HTTP_RETRY_DELAY', 1, false),
    ...overrides,
  };
}

/** A failure that may not happen again: the next attempt is worth making. */
export class TransientError extends Error {}

const seconds = (ms: number) => `${+(ms / 1000).toFixed(3)} s`;

/** Network error codes that say "offline" or "nobody there": retrying soon will not help. */
const UNREACHABLE = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']);

/** The innermost useful description of a fetch error: `connect ECONNREFUSED 127.0.0.1:80`, not `fetch failed`. */
function networkCause(err: unknown): { text: string; code?: string } {
  let e = err as { message?: string; code?: string; cause?: unknown; errors?: unknown[] } | undefined;
  // undici wraps the socket error in `cause`; a host with several addresses gives an AggregateError
  for (let depth = 0; depth < 10 && (e?.cause !== undefined || (e?.errors?.length ?? 0) > 0); depth++) {
    const next = (e!.cause ?? e!.errors![0]) as typeof e;
    if (next === undefined || next === null || typeof next !== 'object') break;
    e = next;
  }
  const text = e?.message || String(err);
  const showCode = e?.code !== undefined && !e.code.startsWith('UND_ERR') && !text.includes(e.code); // undici's own messages say it
  return { text: showCode ? `${e!.code}: ${text}` : text, code: e?.code };
}

/** A fetch or body-read failure as an error that says its cause. */
function describeFailure(err: unknown, signal: AbortSignal, external: AbortSignal | undefined): Error {
  if (external?.aborted) return new Error('aborted', { cause: err });
  if (signal.aborted && signal.reason instanceof TransientError) return signal.reason;
  const { text, code } = networkCause(err);
  return code !== undefined && UNREACHABLE.has(code) ? new Error(text, { cause: err }) : new TransientError(text, { cause: err });
}

/** An HTTP error status as an error; 429 and 5xx are transient. */
export function statusError(response: Response): Error {
  const hint = response.status === 401 || response.status === 403 ? ' (a gated or private repository needs HF_TOKEN)' : '';
  const message = `HTTP ${response.status} ${response.statusText}`.trimEnd() + hint;
  return response.status === 429 || response.status >= 500 ? new TransientError(message) : new Error(message);
}

export interface HttpGet {
  response: Response;
  /** The body in chunks, watched for stalls; errors say the cause. Empty when there is no body. */
  chunks(): AsyncGenerator<Uint8Array>;
  /** Drop the body unread (an error status, a size refused before reading). */
  discard(): void;
}

/**
 * GET `url` (redirects followed; undici drops Authorization on a redirect to another origin).
 * Throws an error saying why if no response arrives within the timeout or the request fails.
 */
export async function httpGet(url: string, headers: Record<string, string>, policy: HttpPolicy, external?: AbortSignal): Promise<HttpGet> {
  const controller = new AbortController();
  const abort = () => controller.abort(external!.reason);
  external?.addEventListener('abort', abort, { once: true });
  const cleanup = () => external?.removeEventListener('abort', abort);
  const timer = setTimeout(() => controller.abort(new TransientError(`no response within ${seconds(policy.timeoutMs)}`)), policy.timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { headers, signal: controller.signal });
  } catch (err) {
    cleanup();
    throw describeFailure(err, controller.signal, external);
  } finally {
    clearTimeout(timer);
  }
  async function* chunks(): AsyncGenerator<Uint8Array> {
    if (!response.body) return cleanup();
    let inWindow = 0;
    const watchdog = setInterval(() => {
      if (inWindow < STALL_BYTES) {
        controller.abort(new TransientError(`stalled: ${inWindow} bytes in the last ${seconds(policy.timeoutMs)}`));
      }
      inWindow = 0;
    }, policy.timeoutMs);
    let finished = false;
    try {
      for await (const chunk of response.body) {
        inWindow += chunk.byteLength;
        yield chunk;
      }
      finished = true;
    } catch (err) {
      throw describeFailure(err, controller.signal, external);
    } finally {
      clearInterval(watchdog);
      if (!finished) controller.abort(); // the caller stopped early: let the connection go
      cleanup();
    }
  }
  const discard = () => {
    controller.abort();
    cleanup();
  };
  return { response, chunks, discard };
}

/**
 * Runs `attempt` until it succeeds, retrying TransientErrors up to `policy.retries` times after
 * retryDelay, 2·retryDelay, 4·retryDelay, … The last error says how many attempts were made.
 */
export async function withRetries<T>(policy: HttpPolicy, signal: AbortSignal | undefined, attempt: () => Promise<T>): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof TransientError) || n >= policy.retries || signal?.aborted) {
        if (n > 0 && err instanceof Error) err.message += ` (gave up after ${n + 1} attempts)`;
        throw err;
      }
      await new Promise((done) => setTimeout(done, policy.retryDelayMs * 2 ** n));
    }
  }
}
