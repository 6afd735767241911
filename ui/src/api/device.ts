// Generated from the Rust types by `expenso_desktop::typescript()`: do not edit.
// Refresh: UPDATE_EXPECT=1 cargo nextest run -p expenso-desktop

export type SyncState = { "state": "signed_out" } | { "state": "syncing" } | { "state": "synced" } | { "state": "offline", reason: string, retry_at: string | null, } | { "state": "error", reason: string, };

export type SyncStatus = { last_synced: string | null, 
/**
 * Changes made here that the server does not have yet.
 */
unsent: number, 
/**
 * Changes received from the server since the engine started: refresh when it grows.
 */
received: number, } & ({ "state": "signed_out" } | { "state": "syncing" } | { "state": "synced" } | { "state": "offline", reason: string, retry_at: string | null, } | { "state": "error", reason: string, });

export type AccountInfo = { email: string, server: string, };

export type DeviceStatus = { 
/**
 * Whether this device has a ledger yet (the first start asks for its currency).
 */
ledger: boolean, 
/**
 * The sign-in, when there is one.
 */
account: AccountInfo | null, sync: SyncStatus, };

export type Imported = { file: string, categories: number, payment_methods: number, transactions: number, };

export type AppEvent = { "kind": "changed" } | { "kind": "sync", status: SyncStatus, } | { "kind": "menu", id: string, } | { "kind": "import_progress", done: number, total: number, };
