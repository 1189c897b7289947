//! Who may see and do what, for the web and the API alike.
//!
//! Office users (any role a workflow declares) see every case; a
//! municipality user sees only cases in which their party takes part, and
//! anything else answers 404, as if it did not exist. The role a person
//! acts in is never chosen by the request: it is the first of the user's
//! roles that the transition allows, or for a municipality user the party
//! role (e.g. `applicant`) under which their municipality takes part.

use crate::case::{Actor, CaseView};
use crate::identity::{LEAD, User};
use crate::workflow::Definition;

use crate::workflow::SYSTEM;

/// True if the user may see the case at all (404 otherwise).
pub fn sees(user: &User, case: &CaseView) -> bool {
    crate::case::visible_to(user, case)
}

/// The actor the user acts as on this case when no particular step is
/// concerned (an upload, a retrieval): their first role on it.
pub fn actor_for(user: &User, case: &CaseView) -> Option<Actor> {
    let roles = crate::case::acting_roles(user, case);
    Some(Actor::new(user.name.clone(), roles.first()?.clone()))
}

/// The (workflow, state) pairs in which the user can act: for the
/// Arbeitskorb. Municipality users are handled by their party filter.
pub fn actionable_states<'a>(
    user: &User,
    defs: impl Iterator<Item = &'a Definition>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for def in defs {
        for state in &def.states {
            let can = def.transitions_from(&state.name).any(|t| {
                if user.is_municipality() {
                    t.roles.iter().any(|r| def.parties.contains_key(r))
                } else {
                    t.roles.iter().any(|r| r != SYSTEM && user.has_role(r))
                }
            });
            if can {
                out.push((def.id.clone(), state.name.clone()));
            }
        }
    }
    out
}

/// The role the user opens a case in on `def`: an office role the
/// workflow declares (not a party's, not the system's).
pub fn opening_role(user: &User, def: &Definition) -> Option<String> {
    if user.is_municipality() {
        return None;
    }
    user.roles
        .iter()
        .find(|r| {
            def.roles.contains_key(r.as_str())
                && !def.parties.contains_key(r.as_str())
                && r.as_str() != SYSTEM
        })
        .cloned()
}

/// True for the office's staff who manage mail and the audit.
pub fn is_office(user: &User) -> bool {
    !user.is_municipality()
}

/// Office leads (and admins) reassign cases and record others' absences.
pub fn is_lead(user: &User) -> bool {
    user.has_role(LEAD) || user.is_admin()
}
