//! The sync protocol's wire types: one definition for the device and the server.
//!
//! Devices exchange raw automerge changes through a per-account change log on the server.
//! The server numbers every change it stores (`seq`, per account, increasing in commit
//! order); a device keeps a cursor (the last `seq` it has) and the changes the server has
//! not acknowledged yet. A change is identified by its hash, so sending one twice is
//! harmless, and the server never needs the ledger document to relay changes.
//!
//! HTTP: `POST /api/v1/sync/changes` ([`PushRequest`] → [`PushResponse`]) and
//! `GET /api/v1/sync/changes?after=N&limit=M` (→ [`PullResponse`]). WebSocket
//! `/api/v1/sync`: [`ClientMessage`] up, [`ServerMessage`] down, JSON text frames.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[cfg(feature = "client")]
pub mod client;
mod session;
pub use session::{Action, Session, SyncError, SNAPSHOT_MIN_BYTES, SNAPSHOT_MIN_CHANGES};

/// Bumped when a message changes incompatibly; both sides say which they speak.
pub const PROTOCOL_VERSION: u32 = 1;

/// The header of the snapshot's response (`GET /api/v1/sync/snapshot`) that says which log
/// position the snapshot covers.
pub const SNAPSHOT_SEQ_HEADER: &str = "expenso-seq";

/// The most changes one pull returns.
pub const MAX_PULL: u32 = 1_000;

/// Raw automerge change bytes; base64 in JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Byte))]
pub struct WireChange(pub Vec<u8>);

impl Serialize for WireChange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for WireChange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(WireChange)
            .map_err(|e| serde::de::Error::custom(format!("a change is not valid base64: {e}")))
    }
}

/// Device → server: changes to store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
    pub changes: Vec<WireChange>,
}

/// Server → device: the hashes (hex) now stored durably, and the newest `seq` of the
/// account's log. `fresh_from` is the `seq` of the first change this push added to the log
/// (the push's new changes run from there to `latest`); none when all were there already.
/// A device whose cursor is just before it has nothing to pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    pub stored: Vec<String>,
    pub latest: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh_from: Option<i64>,
}

/// One stored change with its place in the account's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoggedChange {
    pub seq: i64,
    pub change: WireChange,
}

/// Server → device: changes after the device's cursor, oldest first. `cursor` is where the
/// next pull starts; `more` says whether one is needed now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResponse {
    pub changes: Vec<LoggedChange>,
    pub cursor: i64,
    pub more: bool,
    /// The newest `seq` of the account's log when the pull was answered.
    #[serde(default)]
    pub latest: i64,
}

/// What a device sends over the WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First message: the protocol the device speaks.
    Hello { protocol: u32 },
    /// Store these changes; answered by `Stored` with the same `id`.
    Push { id: u64, changes: Vec<WireChange> },
    /// Send the changes after `after`; answered by `Changes`.
    Pull { after: i64, limit: Option<u32> },
}

/// What the server sends over the WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Welcome {
        protocol: u32,
        latest: i64,
        /// The bytes of the account's whole log, where the server keeps count: a device that
        /// has never synced takes the snapshot instead of a log this large.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        log_bytes: Option<i64>,
    },
    Stored {
        id: u64,
        stored: Vec<String>,
        latest: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fresh_from: Option<i64>,
    },
    /// The answer to a `pull`.
    Changes(PullResponse),
    /// Another device stored these (small) changes; the log now reaches `latest`. A device
    /// whose cursor is just before the first applies them; any other pulls.
    Pushed { changes: Vec<LoggedChange>, latest: i64 },
    /// Another device stored changes: the log now reaches `latest`.
    Notify { latest: i64 },
    /// A request failed; `id` names the push it answers, if any.
    Error { id: Option<u64>, code: String, message: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_a_stable_json_form() {
        let push = ClientMessage::Push { id: 7, changes: vec![WireChange(vec![1, 2, 3])] };
        assert_eq!(serde_json::to_string(&push).unwrap(), r#"{"type":"push","id":7,"changes":["AQID"]}"#);
        let back: ClientMessage = serde_json::from_str(r#"{"type":"push","id":7,"changes":["AQID"]}"#).unwrap();
        assert_eq!(back, push);
        let notify = ServerMessage::Notify { latest: 42 };
        assert_eq!(serde_json::to_string(&notify).unwrap(), r#"{"type":"notify","latest":42}"#);
        let bad = serde_json::from_str::<PushRequest>(r#"{"changes":["%%%"]}"#).unwrap_err();
        assert!(bad.to_string().contains("base64"), "{bad}");
    }
}
