//! German wording of refusals for the web UI and the API: the engine's
//! messages are written for the command line; clerks and municipalities
//! read these. Guard messages come from the workflow files and are German
//! already.

use crate::case::CaseError;
use crate::workflow::WorkflowError;

/// The German message of a case error.
pub fn case_error(e: &CaseError) -> String {
    match e {
        CaseError::NotFound(n) => format!("Es gibt keinen Vorgang mit dem Aktenzeichen {n}."),
        CaseError::Refused(w) => workflow_error(w),
        CaseError::Invalid { field, reason } => {
            format!("Die Angabe „{field}“ ist ungültig: {}", reason_de(reason))
        }
        CaseError::Conflict { file_number, .. } => format!(
            "Der Vorgang {file_number} wurde inzwischen von jemand anderem geändert. Bitte laden Sie ihn neu und wiederholen Sie den Schritt, wenn er noch passt."
        ),
        CaseError::Internal(_) => "Interner Fehler; es wurde nichts geändert.".into(),
    }
}

/// What the user can do, in German.
pub fn case_hint(e: &CaseError) -> Option<String> {
    match e {
        CaseError::Refused(WorkflowError::WrongRole { allowed, .. }) => Some(format!(
            "Diesen Schritt darf nur die Rolle {} ausführen.",
            allowed.join(" oder ")
        )),
        CaseError::Refused(WorkflowError::FourEyes { .. }) => {
            Some("Eine andere Person muss diesen Schritt ausführen (Vier-Augen-Prinzip).".into())
        }
        CaseError::Refused(WorkflowError::MissingField { field, .. }) => {
            Some(format!("Bitte füllen Sie das Feld „{field}“ aus."))
        }
        CaseError::Conflict { .. } => Some("Vorgang neu laden und erneut versuchen.".into()),
        _ => None,
    }
}

/// The German message of a workflow refusal.
pub fn workflow_error(e: &WorkflowError) -> String {
    match e {
        WorkflowError::Invalid(_) => {
            "Die Verfahrensdefinition ist fehlerhaft; bitte wenden Sie sich an die Administration."
                .into()
        }
        WorkflowError::UnknownTransition { transition, .. } => {
            format!("Das Verfahren kennt den Schritt „{transition}“ nicht.")
        }
        WorkflowError::WrongState {
            transition, state, ..
        } => format!("Der Schritt „{transition}“ ist im Stand „{state}“ nicht möglich."),
        WorkflowError::CaseClosed { state } => {
            format!(
                "Der Vorgang ist abgeschlossen (Stand „{state}“); es ist kein Schritt mehr möglich."
            )
        }
        WorkflowError::WrongRole {
            transition, role, ..
        } => {
            format!("In der Rolle „{role}“ dürfen Sie den Schritt „{transition}“ nicht ausführen.")
        }
        WorkflowError::FourEyes {
            title,
            earlier_title,
            ..
        } => format!(
            "Vier-Augen-Prinzip: Sie haben in diesem Vorgang „{earlier_title}“ ausgeführt und dürfen deshalb „{title}“ nicht selbst ausführen."
        ),
        WorkflowError::MissingField { field, .. } => {
            format!("Das Feld „{field}“ ist für diesen Schritt erforderlich, aber leer.")
        }
        WorkflowError::UnknownField { field, .. } => {
            format!("Das Feld „{field}“ ist in diesem Verfahren nicht vorgesehen.")
        }
        WorkflowError::InvalidField { field, reason } => {
            format!(
                "Das Feld „{field}“ hat einen ungültigen Wert: {}",
                reason_de(reason)
            )
        }
        WorkflowError::GuardFailed { message, .. } => message.clone(),
        // Written in German by the engine already.
        e @ (WorkflowError::LookupMismatch { .. }
        | WorkflowError::LinkBroken { .. }
        | WorkflowError::NotAStepField { .. }
        | WorkflowError::ComputedField { .. }
        | WorkflowError::Frozen { .. }) => e.to_string(),
        WorkflowError::GuardFault { transition, .. } => format!(
            "Die Voraussetzungen für „{transition}“ konnten nicht geprüft werden (z. B. ein Text, wo eine Zahl erwartet wird). Bitte prüfen Sie die Angaben."
        ),
        WorkflowError::UnknownParty { party, .. } => {
            format!("Die Beteiligtenrolle „{party}“ ist in diesem Verfahren nicht vorgesehen.")
        }
        WorkflowError::MissingParty { title, .. } => {
            format!("Zum Anlegen des Vorgangs fehlt: {title}.")
        }
    }
}

/// The engine's type reasons are English (`expected a number, got …`):
/// give the German gist.
fn reason_de(reason: &str) -> String {
    let r = reason;
    let expected = [
        ("a date YYYY-MM-DD", "ein Datum (TT.MM.JJJJ)"),
        ("a whole number", "eine ganze Zahl"),
        ("a number", "eine Zahl"),
        ("true or false", "ja oder nein"),
        ("an email address", "eine E-Mail-Adresse"),
        ("a list of strings", "eine Liste von Texten"),
        ("one of the listed values", "einer der vorgegebenen Werte"),
        ("an object or a list", "ein Objekt oder eine Liste"),
        ("a string", "ein Text"),
    ];
    if let Some(rest) = r.strip_prefix("expected ") {
        for (en, de) in expected {
            if rest.starts_with(en) {
                return format!("erwartet wird {de}.");
            }
        }
    }
    if r.contains("is not a date") {
        return "kein gültiges Datum; bitte TT.MM.JJJJ angeben.".into();
    }
    if r.contains("is not one of") {
        return "kein zulässiger Wert; bitte einen der vorgegebenen Werte wählen.".into();
    }
    if r.contains('@') || r.contains("e-mail") || r.contains("email") {
        return "keine gültige E-Mail-Adresse.".into();
    }
    format!("{r}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_reasons_read_in_german() {
        assert_eq!(
            reason_de("expected a number, got the text `x`"),
            "erwartet wird eine Zahl."
        );
        assert_eq!(
            reason_de("`31.02.` is not a date; write YYYY-MM-DD"),
            "kein gültiges Datum; bitte TT.MM.JJJJ angeben."
        );
    }

    #[test]
    fn four_eyes_refusal_names_the_earlier_step() {
        let e = WorkflowError::FourEyes {
            transition: "bewilligen".into(),
            earlier: "bewilligung_vorschlagen".into(),
            actor: "becker".into(),
            title: "Zuwendungsbescheid zeichnen".into(),
            earlier_title: "Bewilligung vorschlagen".into(),
        };
        let m = workflow_error(&e);
        assert!(
            m.contains("Vier-Augen-Prinzip") && m.contains("Bewilligung vorschlagen"),
            "{m}"
        );
    }
}
