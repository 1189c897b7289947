//! The state machine: decides whether a transition may fire and what the case
//! looks like afterwards. Pure: the caller supplies the case, the event and
//! who fired which transition before.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::WorkflowError;
use super::definition::{Definition, Effect, Transition};
use super::guard::GuardInput;

/// Everything the machine needs to decide on one event.
pub struct FireInput<'a> {
    pub state: &'a str,
    pub transition: &'a str,
    pub actor: &'a str,
    pub role: &'a str,
    pub data: &'a Map<String, Value>,
    pub payload: &'a Map<String, Value>,
    /// For each transition named in a four-eyes rule: the actors who fired it.
    pub prior_actors: &'a BTreeMap<String, Vec<String>>,
    pub today: NaiveDate,
    /// `rates` from the configuration.
    pub rates: &'a Map<String, Value>,
}

/// An accepted event: where the case goes and what it carries.
#[derive(Debug)]
pub struct Plan<'a> {
    pub transition: &'a Transition,
    pub to: &'a str,
    /// Case data with the payload applied.
    pub data: Map<String, Value>,
    pub effects: &'a [Effect],
}

impl Definition {
    /// Checks case data against the declared fields: every key declared,
    /// every value of its type.
    pub fn check_data(&self, data: &Map<String, Value>) -> Result<(), WorkflowError> {
        for (key, value) in data {
            let Some(field) = self.fields.get(key) else {
                return Err(WorkflowError::UnknownField {
                    workflow: self.id.clone(),
                    field: key.clone(),
                    known: self.fields.keys().cloned().collect(),
                });
            };
            field
                .kind
                .check(value)
                .map_err(|reason| WorkflowError::InvalidField {
                    field: key.clone(),
                    reason,
                })?;
        }
        Ok(())
    }

    /// Takes the fields that follow from `[lookups]` tables: where the
    /// selecting field names an entry, empty fields are filled from it and a
    /// `fixed` field holding another value is refused.
    pub fn apply_lookups(&self, data: &mut Map<String, Value>) -> Result<(), WorkflowError> {
        for l in &self.lookups {
            let Some(entry) = data
                .get(&l.field)
                .and_then(Value::as_str)
                .and_then(|k| l.entries.get(k))
            else {
                continue;
            };
            for (target, source) in l.fixed.iter().chain(&l.defaults) {
                let value = entry.get(source).cloned().unwrap_or(Value::Null);
                match data.get(target) {
                    None | Some(Value::Null) => {
                        data.insert(target.clone(), value);
                    }
                    Some(given) if l.fixed.contains_key(target) && *given != value => {
                        let text =
                            |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
                        return Err(WorkflowError::LookupMismatch {
                            field: target.clone(),
                            key: text(&data[&l.field]),
                            file: l.file.clone(),
                            expected: text(&value),
                            got: text(given),
                            basis: l.basis.clone(),
                        });
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Validates the data and parties a case is opened with.
    pub fn check_open<'p>(
        &self,
        data: &Map<String, Value>,
        parties: impl IntoIterator<Item = &'p str> + Clone,
    ) -> Result<(), WorkflowError> {
        self.check_data(data)?;
        for field in self.fields.values().filter(|f| f.required) {
            if data.get(&field.name).is_none_or(Value::is_null) {
                return Err(WorkflowError::MissingField {
                    field: field.name.clone(),
                    when: "opening a case".into(),
                });
            }
        }
        for name in parties.clone() {
            if !self.parties.contains_key(name) {
                return Err(WorkflowError::UnknownParty {
                    party: name.to_string(),
                    known: self.parties.keys().cloned().collect(),
                });
            }
        }
        for (name, party) in &self.parties {
            if party.required && !parties.clone().into_iter().any(|p| p == name) {
                return Err(WorkflowError::MissingParty {
                    party: name.clone(),
                    title: party.title.clone(),
                });
            }
        }
        Ok(())
    }

    /// Decides one event. Checks, in this order: the transition exists and
    /// leaves the current state, the role may fire it, the payload is valid
    /// case data, the four-eyes rule, required fields, guards.
    pub fn plan<'a>(&'a self, input: &FireInput<'_>) -> Result<Plan<'a>, WorkflowError> {
        let Some(t) = self.transition(input.transition) else {
            return Err(WorkflowError::UnknownTransition {
                workflow: self.id.clone(),
                transition: input.transition.to_string(),
                available: self.available(input.state),
            });
        };
        // A final state ends the case; only entries that keep it there
        // (no `to`, e.g. the Ab-Vermerk) may still be made.
        if t.to.is_some() && self.state(input.state).is_some_and(|s| s.is_final) {
            return Err(WorkflowError::CaseClosed {
                state: input.state.to_string(),
            });
        }
        if !t.from.iter().any(|f| f == input.state) {
            return Err(WorkflowError::WrongState {
                transition: t.name.clone(),
                state: input.state.to_string(),
                from: t.from.clone(),
                available: self.available(input.state),
            });
        }
        if !t.roles.iter().any(|r| r == input.role) {
            return Err(WorkflowError::WrongRole {
                transition: t.name.clone(),
                role: input.role.to_string(),
                allowed: t.roles.clone(),
            });
        }
        self.check_data(input.payload)?;
        for earlier in &t.four_eyes {
            if input
                .prior_actors
                .get(earlier)
                .is_some_and(|actors| actors.iter().any(|a| a == input.actor))
            {
                return Err(WorkflowError::FourEyes {
                    transition: t.name.clone(),
                    earlier: earlier.clone(),
                    actor: input.actor.to_string(),
                });
            }
        }
        let mut data = input.data.clone();
        for (k, v) in input.payload {
            data.insert(k.clone(), v.clone());
        }
        self.apply_lookups(&mut data)?;
        for field in &t.requires {
            if data.get(field).is_none_or(Value::is_null) {
                return Err(WorkflowError::MissingField {
                    field: field.clone(),
                    when: format!("firing `{}`", t.name),
                });
            }
        }
        if !t.guards.is_empty() {
            // Guards see every declared field, absent ones as null, so that
            // `data.x != null` works without a "no such key" fault.
            let full = self.expression_data(&data);
            let guard_input = GuardInput {
                data: &full,
                payload: input.payload,
                actor: input.actor,
                role: input.role,
                state: input.state,
                today: input.today,
                rates: input.rates,
            };
            for g in &t.guards {
                match g.allows(&guard_input) {
                    Ok(true) => {}
                    Ok(false) => {
                        return Err(WorkflowError::GuardFailed {
                            transition: t.name.clone(),
                            message: g.message.clone(),
                        });
                    }
                    Err(fault) => {
                        return Err(WorkflowError::GuardFault {
                            transition: t.name.clone(),
                            reason: fault.0,
                        });
                    }
                }
            }
        }
        let to = match &t.to {
            Some(to) => to.as_str(),
            None => self
                .state(input.state)
                .map_or(t.from[0].as_str(), |s| s.name.as_str()),
        };
        Ok(Plan {
            transition: t,
            to,
            data,
            effects: &t.effects,
        })
    }

    /// Case data as CEL expressions see it: every declared field present
    /// (absent ones as null, so `data.x != null` works), and `number` fields
    /// always as doubles, so that `2 + 0.5` does not depend on whether a
    /// clerk typed `2` or `2.0` (CEL does not mix int and double arithmetic).
    /// The variables a `set` or letter-data expression sees: the contract
    /// with workflow authors (`data`, `file_number`, `today`, `party`,
    /// `deadlines`, `rates`), built in this one place.
    pub fn expression_vars(
        &self,
        data: &Map<String, Value>,
        file_number: &str,
        today: chrono::NaiveDate,
        party: Value,
        deadlines: &Map<String, Value>,
        rates: &Map<String, Value>,
    ) -> Map<String, Value> {
        let mut vars = Map::new();
        vars.insert("data".into(), Value::Object(self.expression_data(data)));
        vars.insert("file_number".into(), Value::from(file_number));
        vars.insert("today".into(), Value::from(today.to_string()));
        vars.insert("party".into(), party);
        vars.insert("deadlines".into(), Value::Object(deadlines.clone()));
        vars.insert("rates".into(), Value::Object(rates.clone()));
        vars
    }

    pub fn expression_data(&self, data: &Map<String, Value>) -> Map<String, Value> {
        let mut full = data.clone();
        for (name, field) in &self.fields {
            let v = full.entry(name.clone()).or_insert(Value::Null);
            if field.kind == super::FieldKind::Number
                && let Some(f) = v.as_f64()
            {
                *v = Value::from(f);
            }
        }
        full
    }

    /// Names of the transitions that leave a state, for error hints.
    pub fn available(&self, state: &str) -> Vec<String> {
        self.transitions_from(state)
            .map(|t| t.name.clone())
            .collect()
    }
}
