//! What a person may do on a case now, and why not: the one answer every
//! door renders (Fallseite, portal, API, `case show --as`). The roles a
//! person acts in are decided here from their identity, never from a
//! request; the workflow decides the rest ([`Definition::options`]).

use std::collections::BTreeMap;

use super::{Actor, CaseError, CaseView, Engine};
use crate::domain::BuiltinRole;
use crate::identity::User;
use crate::workflow::{AskInput, Definition, StepOption};

/// True if `user` may see `case` at all: office users see every case, a
/// municipality user only cases in which their party takes part.
pub fn visible_to(user: &User, case: &CaseView) -> bool {
    if !user.is_municipality() {
        return true;
    }
    match &user.party {
        Some(p) => case.parties.values().any(|party| &party.name == p),
        None => false,
    }
}

/// The roles in which `user` would act on `case`: a municipality user in
/// the party roles under which their municipality takes part, an office
/// user in their workflow roles (not admin, lead or the system's).
pub fn acting_roles(user: &User, case: &CaseView) -> Vec<String> {
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
            .filter(|r| BuiltinRole::of(r).is_none())
            .cloned()
            .collect()
    }
}

/// The actor `user` fires `transition` as: in the first of their roles the
/// transition allows, else in their first role (the workflow then words
/// the refusal); `None` if they hold no role on the case at all.
pub fn actor_for(
    user: &User,
    case: &CaseView,
    transition: &str,
    def: &Definition,
) -> Option<Actor> {
    let roles = acting_roles(user, case);
    let allowed = def
        .transition(transition)
        .map(|t| t.roles.clone())
        .unwrap_or_default();
    let role = roles
        .iter()
        .find(|r| allowed.contains(r))
        .or(roles.first())?;
    Some(Actor::new(user.name.clone(), role.clone()))
}

/// Why `user` may not take `transition` on `case` by their roles, in any
/// state (the 403 of every door); `None` if one of their roles may, or the
/// workflow has no such step (the engine then words that refusal).
pub fn role_refusal(
    def: &Definition,
    user: &User,
    case: &CaseView,
    transition: &str,
) -> Option<String> {
    let t = def.transition(transition)?;
    let roles = acting_roles(user, case);
    if t.roles.iter().any(|r| roles.contains(r)) {
        None
    } else {
        Some(def.role_refusal(t).0)
    }
}

impl Engine {
    /// Every step from the case's state, as `user` may or may not take it now.
    pub async fn steps(&self, case: &CaseView, user: &User) -> Result<Vec<StepOption>, CaseError> {
        let def = self
            .definition(&case.workflow, case.workflow_version)
            .await?;
        let four_eyes: Vec<String> = def
            .transitions_from(&case.state)
            .flat_map(|t| t.four_eyes.iter().cloned())
            .collect();
        let prior_actors = if four_eyes.is_empty() {
            BTreeMap::new()
        } else {
            let row = self.load(&case.file_number).await?;
            self.store().actors_of(row.id, &four_eyes).await?
        };
        let roles = acting_roles(user, case);
        Ok(def.options(&AskInput {
            state: &case.state,
            actor: &user.name,
            roles: &roles,
            data: &case.data,
            prior_actors: &prior_actors,
            today: self.clock().today(),
            rates: def.rates(self.rates()),
        }))
    }
}
