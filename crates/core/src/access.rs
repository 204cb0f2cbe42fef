//! The one access decision: `can(principal, action, resource)`. Every route
//! and service asks here before it touches anything; no other code compares
//! roles or owners.
//!
//! Rules, in order:
//! 1. Admins may do everything.
//! 2. Another user's workspace or run is reported as *not found*, never as
//!    forbidden, so ids cannot be probed.
//! 3. Viewers only look: every change is forbidden to them.
//! 4. Server-wide administration and root inside a container are admins' only.

use crate::auth::{Principal, Role};
use crate::CoreError;

/// What the caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See it: a workspace and what is in it, a run's events, a policy,
    /// audit rows.
    View,
    /// Change it: files, terminals, lifecycle, exec, starting a run,
    /// answering its approvals, a workspace's policy.
    Change,
    /// Run a command as root inside a workspace.
    ExecAsRoot,
    /// Server-wide administration: users, AI services and aliases, the
    /// default policy, the whole audit log and its export, metrics.
    Administer,
}

/// What the action is on.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    /// An existing workspace.
    Workspace { id: &'a str, owner_id: &'a str },
    /// A workspace the caller is about to create (it will be theirs).
    NewWorkspace,
    /// Every workspace at once (listings and the audit log without a
    /// workspace filter).
    AllWorkspaces,
    /// An AI run, owned by the user it acts for.
    Run { id: &'a str, owner_id: &'a str },
    /// The installation itself.
    Instance,
}

/// May `p` do `action` on `resource`? `Ok(())` or the error to return.
pub fn can(p: &Principal, action: Action, resource: Resource<'_>) -> Result<(), CoreError> {
    if p.role == Role::Admin {
        return Ok(());
    }
    match resource {
        Resource::Workspace { id, owner_id } if owner_id != p.user_id => {
            return Err(CoreError::NotFound(format!("no workspace {id:?}")));
        }
        Resource::Run { id, owner_id } if owner_id != p.user_id => {
            return Err(CoreError::NotFound(format!("no run {id:?}")));
        }
        Resource::AllWorkspaces if action == Action::View => {
            return Err(CoreError::Forbidden(
                "only admins see every workspace".into(),
            ));
        }
        _ => {}
    }
    match action {
        Action::View => Ok(()),
        Action::Change if p.role == Role::Viewer => Err(CoreError::Forbidden(
            "viewers cannot change workspaces".into(),
        )),
        Action::Change => match resource {
            Resource::Instance | Resource::AllWorkspaces => {
                Err(CoreError::Forbidden("only admins can do this".into()))
            }
            _ => Ok(()),
        },
        Action::ExecAsRoot => Err(CoreError::Forbidden(
            "only admins may run commands as root".into(),
        )),
        Action::Administer => Err(CoreError::Forbidden("only admins can do this".into())),
    }
}

/// Whether quotas hold `p` back: everyone but admins, who may raise any
/// quota anyway.
pub fn bound_by_quota(p: &Principal) -> bool {
    can(p, Action::Administer, Resource::Instance).is_err()
}

/// Whether `p` sees every workspace (listings are then not filtered by owner).
pub fn sees_all_workspaces(p: &Principal) -> bool {
    can(p, Action::View, Resource::AllWorkspaces).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role) -> Principal {
        Principal {
            user_id: "u_me".into(),
            username: "me".into(),
            role,
            token_id: "t".into(),
            run: None,
            must_change_password: false,
        }
    }

    /// Outcome names: "ok", "forbidden", "not_found".
    fn outcome(r: Result<(), CoreError>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(CoreError::Forbidden(_)) => "forbidden",
            Err(CoreError::NotFound(_)) => "not_found",
            Err(_) => "other",
        }
    }

    #[test]
    fn the_decision_table() {
        use Action::*;
        let mine = Resource::Workspace {
            id: "w1",
            owner_id: "u_me",
        };
        let theirs = Resource::Workspace {
            id: "w2",
            owner_id: "u_other",
        };
        let my_run = Resource::Run {
            id: "r1",
            owner_id: "u_me",
        };
        let their_run = Resource::Run {
            id: "r2",
            owner_id: "u_other",
        };
        #[rustfmt::skip]
        let table: &[(Role, Action, Resource, &str)] = &[
            // Members: their own things, nothing of others', no administration.
            (Role::Member, View, mine, "ok"),
            (Role::Member, Change, mine, "ok"),
            (Role::Member, ExecAsRoot, mine, "forbidden"),
            (Role::Member, View, theirs, "not_found"),
            (Role::Member, Change, theirs, "not_found"),
            (Role::Member, ExecAsRoot, theirs, "not_found"),
            (Role::Member, Administer, theirs, "not_found"),
            (Role::Member, Change, Resource::NewWorkspace, "ok"),
            (Role::Member, View, Resource::AllWorkspaces, "forbidden"),
            (Role::Member, Change, Resource::AllWorkspaces, "forbidden"),
            (Role::Member, View, my_run, "ok"),
            (Role::Member, Change, my_run, "ok"),
            (Role::Member, View, their_run, "not_found"),
            (Role::Member, Change, their_run, "not_found"),
            (Role::Member, View, Resource::Instance, "ok"),
            (Role::Member, Change, Resource::Instance, "forbidden"),
            (Role::Member, Administer, Resource::Instance, "forbidden"),
            // Viewers: look at their own, change nothing.
            (Role::Viewer, View, mine, "ok"),
            (Role::Viewer, Change, mine, "forbidden"),
            (Role::Viewer, ExecAsRoot, mine, "forbidden"),
            (Role::Viewer, Change, Resource::NewWorkspace, "forbidden"),
            (Role::Viewer, View, theirs, "not_found"),
            (Role::Viewer, Change, theirs, "not_found"),
            (Role::Viewer, Change, my_run, "forbidden"),
            (Role::Viewer, Administer, Resource::Instance, "forbidden"),
            // Admins: everything.
            (Role::Admin, Change, theirs, "ok"),
            (Role::Admin, ExecAsRoot, theirs, "ok"),
            (Role::Admin, View, Resource::AllWorkspaces, "ok"),
            (Role::Admin, Change, their_run, "ok"),
            (Role::Admin, Administer, Resource::Instance, "ok"),
        ];
        for (role, action, resource, want) in table {
            let got = outcome(can(&principal(*role), *action, *resource));
            assert_eq!(got, *want, "{role:?} {action:?} {resource:?}");
        }
    }

    #[test]
    fn the_ai_acting_for_a_user_has_exactly_that_users_rights() {
        let p = principal(Role::Member).in_run("run_1");
        let theirs = Resource::Workspace {
            id: "w2",
            owner_id: "u_other",
        };
        assert_eq!(outcome(can(&p, Action::Change, theirs)), "not_found");
        assert_eq!(
            outcome(can(&p, Action::Administer, Resource::Instance)),
            "forbidden"
        );
    }
}
