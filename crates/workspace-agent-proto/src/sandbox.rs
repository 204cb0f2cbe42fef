//! The kernel sandbox the agent puts around commands the AI runs without
//! an explicit approval (Landlock), shared by the server, which derives the
//! spec from a workspace policy, and the agent, which enforces it.

use landlock::{
    Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetError,
    Scope, ABI,
};
use serde::{Deserialize, Serialize};

/// The lowest Landlock ABI the sandbox accepts: 6 scopes signals and
/// abstract Unix sockets (a sandboxed command must not reach the agent
/// daemon's socket or signal it); 4 brings TCP rules.
pub const MIN_SANDBOX_ABI: u32 = 6;

/// What a sandboxed command may do besides reading files and running
/// programs. Paths are absolute; every list is checked by the agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// Trees the command may change (a private temp dir is added).
    pub writable: Vec<String>,
    /// Trees inside `writable` that stay read-only.
    pub read_only: Vec<String>,
    /// Trees the command may not even read.
    pub unreadable: Vec<String>,
    /// TCP connect and bind allowed.
    pub network: bool,
}

/// The ABIs this build knows, newest first.
pub const ABIS: [(u32, ABI); 6] = [
    (6, ABI::V6),
    (5, ABI::V5),
    (4, ABI::V4),
    (3, ABI::V3),
    (2, ABI::V2),
    (1, ABI::V1),
];

/// A ruleset handling everything `abi` can restrict, refusing to be
/// weaker than asked (no best-effort downgrade).
pub fn full_ruleset(abi: ABI, n: u32, network: bool) -> Result<Ruleset, RulesetError> {
    let mut r = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(abi))?;
    if n >= 4 && !network {
        r = r.handle_access(AccessNet::from_all(abi))?;
    }
    if n >= 6 {
        r = r.scope(Scope::from_all(abi))?;
    }
    Ok(r)
}

/// The Landlock ABI the running kernel offers (0: none), found by creating
/// (not applying) rulesets that require each version.
pub fn landlock_abi() -> u32 {
    for (n, abi) in ABIS {
        if full_ruleset(abi, n, false).and_then(|r| r.create()).is_ok() {
            return n;
        }
    }
    0
}
