//! What a refusal shows a person in the web UI and the API. The messages
//! are German where the error is made (workflow, case, money); this module
//! only keeps internals away from users: a server fault or a broken
//! workflow definition reads as a plain German sentence, the details go to
//! the log.

use crate::case::CaseError;
use crate::workflow::WorkflowError;

/// The message of a case error for a person.
pub fn case_error(e: &CaseError) -> String {
    match e {
        CaseError::Internal(crate::case::Fault::Store(
            s @ (crate::store::StoreError::Busy { .. } | crate::store::StoreError::DiskFull { .. }),
        )) => s.to_string(),
        CaseError::Internal(_) => "Interner Fehler; es wurde nichts geändert.".into(),
        CaseError::Refused(WorkflowError::Invalid(_)) => {
            "Die Verfahrensdefinition ist fehlerhaft; bitte wenden Sie sich an die Administration."
                .into()
        }
        e => e.to_string(),
    }
}

/// What the person can do about it.
pub fn case_hint(e: &CaseError) -> Option<String> {
    match e {
        CaseError::Refused(
            w @ (WorkflowError::WrongRole { .. }
            | WorkflowError::FourEyes { .. }
            | WorkflowError::MissingField { .. }),
        ) => w.hint(),
        CaseError::Conflict { .. } => Some("Vorgang neu laden und erneut versuchen.".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_as_the_engine_words_them_and_internals_stay_hidden() {
        let e = CaseError::Refused(WorkflowError::FourEyes {
            transition: "bewilligen".into(),
            earlier: "bewilligung_vorschlagen".into(),
            actor: "becker".into(),
            title: "Zuwendungsbescheid zeichnen".into(),
            earlier_title: "Bewilligung vorschlagen".into(),
        });
        let m = case_error(&e);
        assert!(
            m.starts_with("Vier-Augen-Prinzip") && m.contains("„Bewilligung vorschlagen“"),
            "{m}"
        );
        assert!(case_hint(&e).unwrap().contains("andere Person"));
        let e = CaseError::Refused(WorkflowError::InvalidField {
            field: "antrag_datum".into(),
            reason: crate::workflow::FieldKind::Date
                .check(&serde_json::json!("31.02."))
                .unwrap_err(),
        });
        assert_eq!(
            case_error(&e),
            "Die Angabe „antrag_datum“ ist ungültig: „31.02.“ ist kein Datum; bitte JJJJ-MM-TT (im Formular TT.MM.JJJJ) angeben."
        );
    }
}
