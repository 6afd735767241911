//! Errors from any backend, in one shape: a stable `code` the UI branches on, a readable
//! message, and the form field it concerns when the message names one (`"amount: …"`).

export class ApiError extends Error {
  readonly code: string
  readonly status: number
  /** The input field the error is about, when the backend's message starts with `field: `. */
  readonly field: string | null
  /** The message without the field prefix, to show next to that field. */
  readonly detail: string

  constructor(code: string, message: string, status = 0) {
    super(message)
    this.name = 'ApiError'
    this.code = code
    this.status = status
    const m = /^([a-z_]+): (.+)$/s.exec(message)
    this.field = m?.[1] ?? null
    this.detail = m?.[2] ?? message
  }

  /** The connection failed: the user should retry once online; nothing was changed. */
  get offline(): boolean {
    return this.code === 'offline'
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError
}

/** A message for any thrown value, for places that show one line. */
export function messageOf(e: unknown): string {
  if (e instanceof ApiError) return e.message
  if (e instanceof Error) return e.message
  return String(e)
}
