//! The protocol spoken between the server and `aicockpit-workspace-agent` over one
//! byte stream (the stdio of an engine exec, bridged to the agent daemon's
//! socket inside the container).
//!
//! The stream is a sequence of frames:
//!
//! ```text
//! u32 BE  length of what follows (kind + channel + payload)
//! u8      kind: 0 = JSON message, 1 = data, 2 = end of data
//! u32 BE  channel
//! ...     payload
//! ```
//!
//! JSON messages ([`Message`]) carry requests, responses and events on
//! channel 0. Bulk bytes (terminal input and output, file contents,
//! archives) travel as data frames on a channel the requester picked, so a
//! large download never holds up a keystroke.

mod claimed_env;
mod frame;
mod messages;
pub mod sandbox;

pub use claimed_env::{
    decode_claimed_env, encode_claimed_env, CLAIMED_ENV_FILE, MAX_CLAIMED_ENV, REMOTE_ENV_FILE,
    UNSET_VARS_VAR, WORKSPACE_FOLDER_VAR,
};
pub use frame::{write_frames, Frame, FrameDecoder, FrameError, FrameKind, MAX_FRAME};
pub use messages::*;

/// Bumped whenever a message changes incompatibly. The server replaces an
/// agent that answers the hello with another protocol or build.
pub const PROTOCOL_VERSION: u32 = 4;

/// Re-exported so users of the protocol use the same `Bytes`.
pub use bytes::Bytes;
