//! Workflow definitions: the procedures declared in `workflows/*.toml`, their
//! validation, and the state machine that decides each event.
//!
//! Pure: no file or database access. [`load`] takes a file's text and the
//! names of the available letter templates; the [`crate::catalog`] reads the
//! files and keeps versions.

mod account;
mod definition;
mod diagnostic;
mod graph;
mod guard;
mod machine;
mod raw;

pub use account::{
    AccountDef, AccountLineDef, Bookings, Column, Controlling, Export, MEASURES, split_path,
};
pub use definition::{
    DataFiles, DeadlineDef, DeadlineKind, Definition, Due, Effect, Enclosure, Field, FieldKind,
    Form, Freeze, Link, LinkStart, Lookup, Party, Register, Retrieval, State, Transition, load,
    load_with_data, untitled,
};
pub use diagnostic::Diagnostic;
pub use graph::{GraphFormat, render_graph};
pub use guard::{DataExpr, Guard, GuardFault, GuardInput, LETTER_ROOTS};
pub(crate) use machine::forbidden_char;
pub use machine::{AskInput, FireInput, Limits, Plan, Rates, SYSTEM, StepField, StepOption};

/// Why a workflow file was not accepted, or why an event was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The file has problems; each diagnostic names file, line and column.
    #[error("{}", render_diagnostics(.0))]
    Invalid(Vec<Diagnostic>),
    /// The event names a transition the workflow does not have.
    #[error("Das Verfahren „{workflow}“ kennt den Schritt „{transition}“ nicht{}", hint_list("jetzt möglich", .available))]
    UnknownTransition {
        workflow: String,
        transition: String,
        available: Vec<String>,
    },
    /// The transition does not leave the case's current state.
    #[error("Der Schritt „{transition}“ ist im Stand „{state}“ nicht möglich (er geht von {} aus){}", .from.join(", "), hint_list("jetzt möglich", .available))]
    WrongState {
        transition: String,
        state: String,
        from: Vec<String>,
        available: Vec<String>,
    },
    /// The case is in a final state.
    #[error("Der Vorgang ist abgeschlossen (Stand „{state}“); es ist kein Schritt mehr möglich.")]
    CaseClosed { state: String },
    /// The actor's role may not fire this transition.
    #[error("In der Rolle „{role}“ ist der Schritt „{transition}“ nicht erlaubt; er ist der Rolle {} vorbehalten.", .allowed.join(" oder "))]
    WrongRole {
        transition: String,
        role: String,
        allowed: Vec<String>,
    },
    /// Four-eyes rule: the same person fired an earlier step.
    #[error(
        "Vier-Augen-Prinzip: {actor} hat in diesem Vorgang „{earlier_title}“ ausgeführt und darf „{title}“ deshalb nicht selbst ausführen; eine andere Person muss es tun."
    )]
    FourEyes {
        transition: String,
        earlier: String,
        actor: String,
        /// The steps' titles, for people.
        title: String,
        earlier_title: String,
    },
    /// A field the step needs has no value.
    #[error("Die Angabe „{field}“ ist {when} erforderlich, aber leer.")]
    MissingField { field: String, when: String },
    /// Data names a field the workflow does not declare.
    #[error("Die Angabe „{field}“ ist im Verfahren „{workflow}“ nicht vorgesehen.")]
    UnknownField {
        workflow: String,
        field: String,
        known: Vec<String>,
    },
    /// A field's value has the wrong type or form.
    #[error("Die Angabe „{field}“ ist ungültig: {reason}.")]
    InvalidField { field: String, reason: String },
    /// A guard refused; the message comes from the workflow file, the
    /// field is the first the guard reads that the step takes.
    #[error("{message}")]
    GuardFailed {
        transition: String,
        message: String,
        field: Option<String>,
    },
    /// The request gives a field the step does not take.
    #[error("Die Angabe „{title}“ ({field}) gehört nicht zum Schritt „{step}“; {}", if .allowed.is_empty() { "er nimmt keine Angaben.".to_string() } else { format!("er nimmt nur: {}.", .allowed.iter().map(|a| format!("„{a}“")).collect::<Vec<_>>().join(", ")) })]
    NotAStepField {
        transition: String,
        field: String,
        title: String,
        step: String,
        allowed: Vec<String>,
    },
    /// A value larger than the configured limit (`[limits]`).
    #[error("Die Angabe „{title}“ ({field}) ist zu lang: {what}.")]
    TooLarge {
        field: String,
        title: String,
        what: String,
    },
    /// The request gives a field the engine computes (`set`, `number`).
    #[error(
        "Die Angabe „{title}“ ({field}) wird von amtspost berechnet bzw. vergeben und kann nicht eingegeben werden."
    )]
    ComputedField { field: String, title: String },
    /// The field is fixed in this state (a signed notice printed it).
    #[error("Die Angabe „{title}“ ({field}) ist festgeschrieben, seit der Bescheid gezeichnet ist; ändern lässt sie sich nur mit {}.", if .corrections.is_empty() { "keinem Schritt".to_string() } else { .corrections.iter().map(|c| format!("„{c}“")).collect::<Vec<_>>().join(" oder ") })]
    Frozen {
        field: String,
        title: String,
        corrections: Vec<String>,
    },
    /// A field that follows from a table (`[lookups]`) holds another value.
    #[error("Feld `{field}`: für „{key}“ gilt nach {file} „{expected}“, nicht „{got}“{}; der Wert kommt aus der Tabelle und ist nicht frei einzugeben", .basis.as_ref().map(|b| format!(" ({b})")).unwrap_or_default())]
    LookupMismatch {
        field: String,
        key: String,
        file: String,
        expected: String,
        got: String,
        basis: Option<String>,
    },
    /// A field naming a related case (`[links]`) names none that fits.
    #[error("Feld `{field}`: {reason}{}", .basis.as_ref().map(|b| format!(" ({b})")).unwrap_or_default())]
    LinkBroken {
        field: String,
        reason: String,
        basis: Option<String>,
    },
    /// A guard could not be evaluated (e.g. compared a text with a number).
    #[error(
        "Die Voraussetzungen für „{transition}“ konnten nicht geprüft werden (z. B. ein Text, wo eine Zahl erwartet wird); bitte die Angaben prüfen. Technisch: {reason}"
    )]
    GuardFault { transition: String, reason: String },
    /// A party the workflow does not declare.
    #[error("Die Beteiligtenrolle „{party}“ ist in diesem Verfahren nicht vorgesehen; vorgesehen: {}.", .known.join(", "))]
    UnknownParty { party: String, known: Vec<String> },
    /// A required party is missing when opening a case.
    #[error("Zum Anlegen des Vorgangs fehlt: {title} ({party}).")]
    MissingParty { party: String, title: String },
}

impl WorkflowError {
    /// The field a refusal is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            WorkflowError::MissingField { field, .. }
            | WorkflowError::UnknownField { field, .. }
            | WorkflowError::InvalidField { field, .. }
            | WorkflowError::LookupMismatch { field, .. }
            | WorkflowError::NotAStepField { field, .. }
            | WorkflowError::ComputedField { field, .. }
            | WorkflowError::Frozen { field, .. }
            | WorkflowError::TooLarge { field, .. }
            | WorkflowError::LinkBroken { field, .. } => Some(field),
            WorkflowError::GuardFailed { field, .. } => field.as_deref(),
            WorkflowError::UnknownParty { party, .. }
            | WorkflowError::MissingParty { party, .. } => Some(party),
            _ => None,
        }
    }

    /// The rule that refused, as a stable name for programs.
    pub fn rule(&self) -> &'static str {
        match self {
            WorkflowError::Invalid(_) => "definition",
            WorkflowError::UnknownTransition { .. } => "unknown_transition",
            WorkflowError::WrongState { .. } => "wrong_state",
            WorkflowError::CaseClosed { .. } => "case_closed",
            WorkflowError::WrongRole { .. } => "role",
            WorkflowError::FourEyes { .. } => "four_eyes",
            WorkflowError::MissingField { .. } => "required_field",
            WorkflowError::UnknownField { .. } => "unknown_field",
            WorkflowError::InvalidField { .. } => "field_type",
            WorkflowError::GuardFailed { .. } => "guard",
            WorkflowError::NotAStepField { .. } => "not_a_step_field",
            WorkflowError::ComputedField { .. } => "computed_field",
            WorkflowError::Frozen { .. } => "frozen_field",
            WorkflowError::TooLarge { .. } => "too_large",
            WorkflowError::LookupMismatch { .. } => "lookup",
            WorkflowError::LinkBroken { .. } => "link",
            WorkflowError::GuardFault { .. } => "guard_fault",
            WorkflowError::UnknownParty { .. } => "unknown_party",
            WorkflowError::MissingParty { .. } => "required_party",
        }
    }

    /// What the actor can do about it, as data (the message says what happened).
    pub fn hint(&self) -> Option<String> {
        match self {
            WorkflowError::UnknownTransition { available, .. }
            | WorkflowError::WrongState { available, .. }
                if !available.is_empty() =>
            {
                Some(format!("jetzt möglich: {}", available.join(", ")))
            }
            WorkflowError::WrongRole { allowed, .. } => Some(format!(
                "Diesen Schritt darf nur die Rolle {} ausführen.",
                allowed.join(" oder ")
            )),
            WorkflowError::FourEyes { .. } => Some(
                "Eine andere Person muss diesen Schritt ausführen (Vier-Augen-Prinzip).".into(),
            ),
            WorkflowError::MissingField { field, .. } => Some(format!(
                "Bitte „{field}“ angeben (Kommandozeile: --set {field}=…)."
            )),
            _ => None,
        }
    }

    /// The diagnostics of a definition error, each with file, line, column and hint.
    pub fn diagnostics(&self) -> Option<&[Diagnostic]> {
        match self {
            WorkflowError::Invalid(d) => Some(d),
            _ => None,
        }
    }
}

fn render_diagnostics(d: &[Diagnostic]) -> String {
    d.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn hint_list(what: &str, items: &[String]) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!("; {what}: {}", items.join(", "))
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
