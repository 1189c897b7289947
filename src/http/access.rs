//! Who may see and do what, for the web and the API alike.
//!
//! Office users (any role a workflow declares) see every case; a
//! municipality user sees only cases in which their party takes part, and
//! anything else answers 404, as if it did not exist. The role a person
//! acts in is never chosen by the request: it is the first of the user's
//! roles that the transition allows, or for a municipality user the party
//! role (e.g. `applicant`) under which their municipality takes part.

use crate::case::{Actor, CaseView};
use crate::identity::{ADMIN, LEAD, MUNICIPALITY, User};
use crate::workflow::{Definition, Transition};

/// Roles no person acts in.
const SYSTEM: &str = "system";

/// True if the user may see the case at all.
pub fn sees(user: &User, case: &CaseView) -> bool {
    if !user.is_municipality() {
        return true;
    }
    match &user.party {
        Some(p) => case.parties.values().any(|party| &party.name == p),
        None => false,
    }
}

/// The roles in which the user would act on this case.
fn roles_on(user: &User, case: &CaseView) -> Vec<String> {
    if user.is_municipality() {
        let Some(p) = &user.party else {
            return Vec::new();
        };
        case.parties
            .iter()
            .filter(|(_, party)| &party.name == p)
            .map(|(role, _)| role.clone())
            .collect()
    } else {
        user.roles
            .iter()
            .filter(|r| ![ADMIN, LEAD, MUNICIPALITY, SYSTEM].contains(&r.as_str()))
            .cloned()
            .collect()
    }
}

/// The actor the user fires `transition` as, or `None` if none of their
/// roles may (the caller then refuses with 403). Without a matching role
/// the first role is returned so that the engine words the refusal.
pub fn actor_for(user: &User, case: &CaseView, transition: Option<&Transition>) -> Option<Actor> {
    let roles = roles_on(user, case);
    let role = match transition {
        Some(t) => roles.iter().find(|r| t.roles.contains(r)).or(roles.first()),
        None => roles.first(),
    }?;
    Some(Actor::new(user.name.clone(), role.clone()))
}

/// True if one of the user's roles may fire `t`.
pub fn may_fire(user: &User, case: &CaseView, t: &Transition) -> bool {
    roles_on(user, case).iter().any(|r| t.roles.contains(r))
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
