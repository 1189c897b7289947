//! The state machine: decides whether a transition may fire and what the case
//! looks like afterwards. Pure: the caller supplies the case, the event and
//! who fired which transition before.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::WorkflowError;
use super::definition::{Definition, Effect, Transition};
use super::guard::GuardInput;
use crate::money::Money;

/// The configured rates (`rates` in expressions), in both views: whole
/// cents for workflows with amount fields, euros as numbers for the
/// versions before them (see [`Definition::uses_money`]).
#[derive(Debug, Clone, Default)]
pub struct Rates {
    pub cents: Map<String, Value>,
    pub euros: Map<String, Value>,
}

impl Rates {
    pub fn new(rates: &BTreeMap<String, Money>) -> Rates {
        use rust_decimal::prelude::ToPrimitive;
        Rates {
            cents: rates
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.cents())))
                .collect(),
            euros: rates
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.decimal().to_f64().unwrap_or(0.0))))
                .collect(),
        }
    }
}

/// How large a value a person may give a field: checked by the engine for
/// every door (API, web and portal forms, `case open --set`, drafts), so
/// that one oversized or binary value cannot exhaust the server or a
/// letter. `amtspost` sets them from the configuration (`[limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// A one-line value (string, e-mail, enum, date): bytes.
    pub line_bytes: usize,
    /// A text field (several paragraphs): bytes.
    pub text_bytes: usize,
    /// A list: items, and bytes per item.
    pub list_items: usize,
    pub list_item_bytes: usize,
    /// A structured value (object): bytes of its JSON.
    pub object_bytes: usize,
    /// A letter may have at most this many pages …
    pub letter_pages: usize,
    /// … and take at most this many milliseconds to render; beyond either
    /// the step is refused, naming the largest value the letter shows.
    pub letter_millis: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            line_bytes: 1_000,
            text_bytes: 20_000,
            list_items: 200,
            list_item_bytes: 2_000,
            object_bytes: 200_000,
            letter_pages: 40,
            letter_millis: 60_000,
        }
    }
}

/// The first character of `s` a field may not hold: a control character
/// (NUL, escape, …; line breaks and tabs only in texts and objects) or a
/// Unicode format character such as a bidi override, which could make a
/// name read backwards on a page or in a letter.
pub(crate) fn forbidden_char(s: &str, multiline: bool) -> Option<char> {
    s.chars().find(|c| {
        let allowed_space = multiline && matches!(c, '\n' | '\r' | '\t');
        (c.is_control() && !allowed_space)
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
    })
}

/// Everything the machine needs to decide on one event.
pub struct FireInput<'a> {
    pub state: &'a str,
    pub transition: &'a str,
    pub actor: &'a str,
    pub role: &'a str,
    pub data: &'a Map<String, Value>,
    /// What the request gives: only the step's inputs.
    pub payload: &'a Map<String, Value>,
    /// Fields the engine took from linked cases (`[links]`), applied after
    /// the payload; not the requester's to give.
    pub taken: &'a Map<String, Value>,
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
        self.normalize_data(data).map(|_| ())
    }

    /// [`Definition::check_data`], returning the data as it is stored:
    /// amounts in their canonical form (`"118450.00"`).
    pub fn normalize_data(
        &self,
        data: &Map<String, Value>,
    ) -> Result<Map<String, Value>, WorkflowError> {
        let mut out = Map::with_capacity(data.len());
        for (key, value) in data {
            let Some(field) = self.fields.get(key) else {
                return Err(WorkflowError::UnknownField {
                    workflow: self.id.clone(),
                    field: key.clone(),
                    known: self.fields.keys().cloned().collect(),
                });
            };
            let v = field
                .kind
                .normalize(value)
                .map_err(|reason| WorkflowError::InvalidField {
                    field: key.clone(),
                    reason,
                })?;
            out.insert(key.clone(), v);
        }
        Ok(out)
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

    /// Checks what a person gives against the size limits and refuses
    /// control and bidi characters, naming the field.
    pub fn check_limits(
        &self,
        data: &Map<String, Value>,
        limits: &Limits,
    ) -> Result<(), WorkflowError> {
        use super::FieldKind as K;
        for (name, value) in data {
            let Some(field) = self.fields.get(name) else {
                continue;
            };
            let too_long = |what: String| WorkflowError::TooLarge {
                field: name.clone(),
                title: self.field_title(name),
                what,
            };
            let bad_char = |c: char| WorkflowError::InvalidField {
                field: name.clone(),
                reason: format!(
                    "das Zeichen U+{:04X} ist nicht erlaubt (Steuer- oder Richtungszeichen)",
                    c as u32
                ),
            };
            match (&field.kind, value) {
                (K::Text, Value::String(s)) => {
                    if s.len() > limits.text_bytes {
                        return Err(too_long(format!("höchstens {} Zeichen", limits.text_bytes)));
                    }
                    if let Some(c) = forbidden_char(s, true) {
                        return Err(bad_char(c));
                    }
                }
                (K::List, Value::Array(items)) => {
                    if items.len() > limits.list_items {
                        return Err(too_long(format!(
                            "höchstens {} Einträge",
                            limits.list_items
                        )));
                    }
                    for s in items.iter().filter_map(Value::as_str) {
                        if s.len() > limits.list_item_bytes {
                            return Err(too_long(format!(
                                "höchstens {} Zeichen je Eintrag",
                                limits.list_item_bytes
                            )));
                        }
                        if let Some(c) = forbidden_char(s, false) {
                            return Err(bad_char(c));
                        }
                    }
                }
                (K::Object, v) => {
                    if v.to_string().len() > limits.object_bytes {
                        return Err(too_long(format!("höchstens {} Byte", limits.object_bytes)));
                    }
                }
                (_, Value::String(s)) => {
                    if s.len() > limits.line_bytes {
                        return Err(too_long(format!("höchstens {} Zeichen", limits.line_bytes)));
                    }
                    if let Some(c) = forbidden_char(s, false) {
                        return Err(bad_char(c));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Data a person gives outside a step (opening a case, a draft), as it
    /// is stored: typed, and without computed fields (written by `set` and
    /// `number` effects), which nobody types.
    pub fn given_data(
        &self,
        data: &Map<String, Value>,
    ) -> Result<Map<String, Value>, WorkflowError> {
        let data = self.normalize_data(data)?;
        if let Some(field) = data
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k)
            .find(|k| self.computed(k))
        {
            return Err(WorkflowError::ComputedField {
                field: field.clone(),
                title: self.field_title(field),
            });
        }
        Ok(data)
    }

    /// True when one of `roles` may take some step of this workflow by
    /// itself (an office role, not a party's or the system's): the people
    /// a case of it can be assigned to.
    pub fn can_act<'r>(&self, roles: impl IntoIterator<Item = &'r str> + Clone) -> bool {
        self.transitions.iter().any(|t| {
            t.roles.iter().any(|r| {
                r != SYSTEM
                    && !self.parties.contains_key(r)
                    && roles.clone().into_iter().any(|have| have == r)
            })
        })
    }

    /// Validates the data and parties a case is opened with, and brings
    /// the data into its stored form. Computed fields (written by `set`
    /// and `number` effects) cannot be given.
    pub fn check_open<'p>(
        &self,
        data: &mut Map<String, Value>,
        parties: impl IntoIterator<Item = &'p str> + Clone,
    ) -> Result<(), WorkflowError> {
        *data = self.given_data(data)?;
        for field in self.fields.values().filter(|f| f.required) {
            if data.get(&field.name).is_none_or(Value::is_null) {
                return Err(WorkflowError::MissingField {
                    field: field.name.clone(),
                    when: "beim Anlegen eines Vorgangs".into(),
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
        let payload = self.step_payload(t, input.state, input.payload)?;
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
                    title: self.transition_title(&t.name),
                    earlier_title: self.transition_title(earlier),
                });
            }
        }
        let mut data = input.data.clone();
        for (k, v) in payload.iter().chain(input.taken) {
            data.insert(k.clone(), v.clone());
        }
        self.apply_lookups(&mut data)?;
        for field in &t.requires {
            if data.get(field).is_none_or(Value::is_null) {
                return Err(WorkflowError::MissingField {
                    field: field.clone(),
                    when: format!("für den Schritt „{}“", self.transition_title(&t.name)),
                });
            }
        }
        if !t.guards.is_empty() {
            // Guards see every declared field, absent ones as null, so that
            // `data.x != null` works without a "no such key" fault.
            let full = self.expression_data(&data);
            let guard_input = GuardInput {
                data: &full,
                payload: &payload,
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
                            field: self.guard_field(t, g),
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
            match field.kind {
                super::FieldKind::Number => {
                    if let Some(f) = v.as_f64() {
                        *v = Value::from(f);
                    }
                }
                // Amounts are whole cents: exact sums and comparisons.
                super::FieldKind::Money => {
                    if let Ok(m) = Money::from_json(v) {
                        *v = Value::from(m.cents());
                    }
                }
                _ => {}
            }
        }
        full
    }

    /// True if the workflow has amount fields: its expressions then see
    /// every amount, the configured rates too, as whole cents. Earlier
    /// versions (numbers in euros) keep seeing euros, so that cases opened
    /// on them compute as they always did.
    pub fn uses_money(&self) -> bool {
        self.fields
            .values()
            .any(|f| f.kind == super::FieldKind::Money)
    }

    /// The configured rates as this workflow's expressions see them.
    pub fn rates<'r>(&self, rates: &'r Rates) -> &'r Map<String, Value> {
        if self.uses_money() {
            &rates.cents
        } else {
            &rates.euros
        }
    }

    /// The request's data for step `t` in `state`, as it is stored: only
    /// the step's inputs (`requires` and `fields`), none computed, none
    /// frozen in this state unless `t` is a declared correction, each of
    /// its type. The same rule for office users and municipalities.
    pub fn step_payload(
        &self,
        t: &Transition,
        state: &str,
        payload: &Map<String, Value>,
    ) -> Result<Map<String, Value>, WorkflowError> {
        for key in payload.keys() {
            if !self.fields.contains_key(key) {
                return Err(WorkflowError::UnknownField {
                    workflow: self.id.clone(),
                    field: key.clone(),
                    known: self.fields.keys().cloned().collect(),
                });
            }
            if self.computed(key) {
                return Err(WorkflowError::ComputedField {
                    field: key.clone(),
                    title: self.field_title(key),
                });
            }
            if !self.inputs(t).any(|i| i == key) {
                return Err(WorkflowError::NotAStepField {
                    transition: t.name.clone(),
                    field: key.clone(),
                    title: self.field_title(key),
                    step: self.transition_title(&t.name),
                    allowed: self.inputs(t).map(|i| self.field_title(i)).collect(),
                });
            }
            if let Some(f) = self.frozen(state, key)
                && !f.corrections.contains(&t.name)
            {
                return Err(WorkflowError::Frozen {
                    field: key.clone(),
                    title: self.field_title(key),
                    corrections: f
                        .corrections
                        .iter()
                        .map(|c| self.transition_title(c))
                        .collect(),
                });
            }
        }
        self.normalize_data(payload)
    }

    /// The open guards on a new case's data (with its links taken): the
    /// first that says no refuses, naming the first field it reads that
    /// the requester gives (not one taken from a linked case).
    pub fn check_open_guards(
        &self,
        data: &Map<String, Value>,
        actor: &str,
        role: &str,
        today: NaiveDate,
        rates: &Map<String, Value>,
    ) -> Result<(), WorkflowError> {
        if self.open_guards.is_empty() {
            return Ok(());
        }
        let full = self.expression_data(data);
        let input = GuardInput {
            data: &full,
            payload: data,
            actor,
            role,
            state: &self.initial_state().name,
            today,
            rates,
        };
        let taken = |f: &String| {
            self.links
                .iter()
                .any(|l| l.take.contains_key(f) || l.account.contains_key(f))
        };
        for g in &self.open_guards {
            match g.allows(&input) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(WorkflowError::GuardFailed {
                        transition: "anlegen".into(),
                        message: g.message.clone(),
                        field: g
                            .fields
                            .iter()
                            .find(|f| !taken(f))
                            .or(g.fields.first())
                            .cloned(),
                    });
                }
                Err(fault) => {
                    return Err(WorkflowError::GuardFault {
                        transition: "anlegen".into(),
                        reason: fault.0,
                    });
                }
            }
        }
        Ok(())
    }

    /// The field a guard's refusal is about: the first field it reads that
    /// the step takes, else the first it reads.
    pub fn guard_field(&self, t: &Transition, g: &super::Guard) -> Option<String> {
        g.fields
            .iter()
            .find(|f| self.inputs(t).any(|i| i == *f))
            .or(g.fields.first())
            .cloned()
    }

    /// Names of the transitions that leave a state, for error hints.
    pub fn available(&self, state: &str) -> Vec<String> {
        self.transitions_from(state)
            .map(|t| t.name.clone())
            .collect()
    }
}

/// Who asks what they may do on a case, and the case as it stands.
pub struct AskInput<'a> {
    pub state: &'a str,
    /// The person's name (four-eyes compares it).
    pub actor: &'a str,
    /// The roles the person holds on this case (office roles, or the party
    /// roles under which their municipality takes part).
    pub roles: &'a [String],
    pub data: &'a Map<String, Value>,
    /// For each transition named in a four-eyes rule: the actors who fired it.
    pub prior_actors: &'a BTreeMap<String, Vec<String>>,
    pub today: NaiveDate,
    pub rates: &'a Map<String, Value>,
}

/// One step from the current state, as one person may or may not take it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct StepOption {
    /// The transition's name, as `fire` takes it.
    pub transition: String,
    pub title: String,
    pub allowed: bool,
    /// Why not, in German, for the person.
    pub reason: Option<String>,
    /// The rule that says no (`role`, `four_eyes`, `guard`, `frozen_field`,
    /// `case_closed`, `system`), for programs.
    pub rule: Option<String>,
    /// The field a refusing guard is about.
    pub field: Option<String>,
    /// The role the person would act in.
    pub role: Option<String>,
    /// The step issues a letter (the page asks for a preview first).
    pub letter: bool,
    /// The step ends the case for good (a final state): pages ask the
    /// person to confirm it.
    pub ends_case: bool,
    /// What the step takes, in form order, with the current values.
    pub fields: Vec<StepField>,
}

/// A field a step takes.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct StepField {
    pub name: String,
    pub title: String,
    /// `string`, `text`, `integer`, `number`, `money`, `boolean`, `date`,
    /// `email`, `list`, `enum`, `object`.
    #[serde(rename = "type")]
    pub kind: String,
    /// For `enum`: the values allowed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    pub required: bool,
    /// The value the case holds now (amounts as `"118450.00"`).
    #[schema(value_type = Object)]
    pub value: Value,
}

impl Definition {
    /// Why a person whose roles `t` does not name may not take it, and the
    /// rule (`system` for steps only amtspost takes, else `role`).
    pub fn role_refusal(&self, t: &Transition) -> (String, &'static str) {
        let people: Vec<String> = t
            .roles
            .iter()
            .filter(|r| r.as_str() != SYSTEM)
            .map(|r| format!("„{}“", self.roles.get(r).cloned().unwrap_or(r.clone())))
            .collect();
        if people.is_empty() {
            ("Diesen Schritt führt amtspost selbst aus.".into(), "system")
        } else {
            (
                format!(
                    "Diesen Schritt darf nur {} ausführen.",
                    people.join(" oder ")
                ),
                "role",
            )
        }
    }

    /// Every step from the current state with whether this person may take
    /// it now and, if not, why: the one answer the web pages, the portal,
    /// the API and the CLI render. Guards that read only fields the step
    /// does not take are decided here (filling in the form cannot change
    /// them); the rest are decided when the step is fired.
    pub fn options(&self, ask: &AskInput<'_>) -> Vec<StepOption> {
        let closed = self.state(ask.state).is_some_and(|s| s.is_final);
        let full = self.expression_data(ask.data);
        let empty = Map::new();
        self.transitions_from(ask.state)
            .map(|t| {
                let role = t.roles.iter().find(|r| ask.roles.contains(r)).cloned();
                let title = self.transition_title(&t.name);
                let no: Option<(String, &str, Option<String>)>;
                if t.to.is_some() && closed {
                    no = Some(("Der Vorgang ist abgeschlossen; dieser Schritt ist nicht mehr möglich.".into(), "case_closed", None));
                } else if role.is_none() {
                    let (reason, rule) = self.role_refusal(t);
                    no = Some((reason, rule, None));
                } else if let Some(earlier) = t.four_eyes.iter().find(|e| {
                    ask.prior_actors
                        .get(*e)
                        .is_some_and(|a| a.iter().any(|a| a == ask.actor))
                }) {
                    no = Some((
                        format!(
                            "Vier-Augen-Prinzip: Sie haben „{}“ in diesem Vorgang selbst ausgeführt; eine andere Person muss „{title}“ ausführen.",
                            self.transition_title(earlier)
                        ),
                        "four_eyes",
                        None,
                    ));
                } else if let Some(f) = self
                    .inputs(t)
                    .find_map(|i| self.frozen(ask.state, i).filter(|f| !f.corrections.contains(&t.name)).map(|_| i))
                {
                    no = Some((
                        format!("„{}“ ist festgeschrieben, seit der Bescheid gezeichnet ist.", self.field_title(f)),
                        "frozen_field",
                        Some(f.clone()),
                    ));
                } else {
                    let input = GuardInput {
                        data: &full,
                        payload: &empty,
                        actor: ask.actor,
                        role: role.as_deref().unwrap_or_default(),
                        state: ask.state,
                        today: ask.today,
                        rates: ask.rates,
                    };
                    no = t
                        .guards
                        .iter()
                        .filter(|g| !g.fields.iter().any(|f| self.inputs(t).any(|i| i == f)))
                        .find(|g| matches!(g.allows(&input), Ok(false)))
                        .map(|g| (g.message.clone(), "guard", self.guard_field(t, g)));
                }
                let fields = self
                    .inputs(t)
                    .filter_map(|name| {
                        let f = self.fields.get(name)?;
                        let (kind, values) = match &f.kind {
                            super::FieldKind::Enum(v) => ("enum".to_string(), v.clone()),
                            super::FieldKind::Choices(v) => ("list".to_string(), v.clone()),
                            k => (
                                serde_json::to_value(k)
                                    .ok()
                                    .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string))
                                    .unwrap_or_default(),
                                Vec::new(),
                            ),
                        };
                        Some(StepField {
                            name: name.clone(),
                            title: self.field_title(name),
                            kind,
                            values,
                            required: t.requires.contains(name),
                            value: ask.data.get(name).cloned().unwrap_or(Value::Null),
                        })
                    })
                    .collect();
                StepOption {
                    transition: t.name.clone(),
                    title,
                    allowed: no.is_none(),
                    reason: no.as_ref().map(|n| n.0.clone()),
                    rule: no.as_ref().map(|n| n.1.to_string()),
                    field: no.and_then(|n| n.2),
                    role,
                    letter: t.effects.iter().any(|e| matches!(e, Effect::Letter { .. })),
                    ends_case: self.ends_case(&t.name),
                    fields,
                }
            })
            .collect()
    }
}

/// The role amtspost itself acts in (deadline expiry, retrieval); no person holds it.
pub const SYSTEM: &str = crate::domain::BuiltinRole::System.as_str();
