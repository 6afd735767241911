//! Checks the sign-in forms make before asking the server (which checks again).

export function looksLikeEmail(s: string): boolean {
  return /^[^\s@]+@[^\s@.][^\s@]*\.[^\s@]+$/.test(s.trim())
}
