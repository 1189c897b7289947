//! `[links]`: a case field naming a related case of another workflow (e.g.
//! a KI case and the RAA transition case of the same municipality). Before
//! a case is opened or a step fires, the engine reads the linked case,
//! checks that it is of the named workflow and agrees on the `same` fields,
//! and copies the `take` fields into the event, so that the workflow's
//! guards can compare both cases.

use serde_json::{Map, Value};

use super::{CaseError, Engine};
use crate::workflow::{Definition, WorkflowError};

impl Engine {
    /// `payload` with the fields the links of `def` take from their linked
    /// cases; `data` is the case as it stands (empty when opening).
    pub(super) async fn with_links(
        &self,
        def: &Definition,
        data: &Map<String, Value>,
        mut payload: Map<String, Value>,
    ) -> Result<Map<String, Value>, CaseError> {
        for link in &def.links {
            let value = |payload: &Map<String, Value>, name: &str| {
                payload
                    .get(name)
                    .or_else(|| data.get(name))
                    .filter(|v| !v.is_null())
                    .cloned()
            };
            let Some(number) = value(&payload, &link.field) else {
                continue;
            };
            let broken = |reason: String| {
                CaseError::Refused(WorkflowError::LinkBroken {
                    field: link.field.clone(),
                    reason,
                    basis: link.basis.clone(),
                })
            };
            let number = number.as_str().unwrap_or_default().to_string();
            let other = self
                .store()
                .case_by_number(&number)
                .await?
                .filter(|c| c.workflow_id == link.workflow)
                .ok_or_else(|| {
                    broken(format!(
                        "es gibt keinen Fall „{number}“ des Verfahrens `{}`",
                        link.workflow
                    ))
                })?;
            for (here, there) in &link.same {
                let theirs = other.data.get(there).cloned().unwrap_or(Value::Null);
                match value(&payload, here) {
                    None => {
                        payload.insert(here.clone(), theirs);
                    }
                    Some(ours) if ours != theirs => {
                        return Err(broken(format!(
                            "der Fall {number} gehört zu {theirs}, dieser Fall zu {ours} (`{here}`)"
                        )));
                    }
                    Some(_) => {}
                }
            }
            for (here, there) in &link.take {
                let theirs = other.data.get(there).cloned().unwrap_or(Value::Null);
                if let Some(given) = payload.get(here).filter(|v| !v.is_null())
                    && *given != theirs
                {
                    return Err(broken(format!(
                        "`{here}` kommt aus dem Fall {number} ({theirs}) und ist nicht frei einzugeben (angegeben: {given})"
                    )));
                }
                payload.insert(here.clone(), theirs);
            }
        }
        Ok(payload)
    }
}
