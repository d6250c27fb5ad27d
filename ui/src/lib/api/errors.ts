/** An error answered by the engine (`{ error: { code, message } }`) or met on the way to it. */
export class ApiError extends Error {
  /** HTTP status; 0 when the engine could not be reached at all. */
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }

  get unauthorized(): boolean {
    return this.status === 401;
  }

  get unreachable(): boolean {
    return this.status === 0;
  }

  /** The engine does not offer this endpoint (an older engine, or a feature not built yet). */
  get notAvailable(): boolean {
    return this.code === NOT_AVAILABLE;
  }

  /** The engine refused it for the operator's role. */
  get forbidden(): boolean {
    return this.status === 403;
  }
}

export const NOT_AVAILABLE = "not_available";

export function isNotAvailable(err: unknown): boolean {
  return err instanceof ApiError && err.notAvailable;
}

/** Turn an error response body into an ApiError, whatever shape the body has. */
export function errorFromBody(status: number, body: unknown): ApiError {
  if (typeof body === "object" && body !== null && "error" in body) {
    const inner = (body as { error: unknown }).error;
    if (typeof inner === "object" && inner !== null) {
      const { code, message } = inner as { code?: unknown; message?: unknown };
      return new ApiError(
        status,
        typeof code === "string" ? code : `http_${status}`,
        typeof message === "string" ? message : `HTTP ${status}`,
      );
    }
  }
  // A 404/405 without our error body comes from the router, not a handler: no such endpoint.
  if (status === 404 || status === 405) return new ApiError(status, NOT_AVAILABLE, `HTTP ${status}`);
  return new ApiError(status, `http_${status}`, `HTTP ${status}`);
}
