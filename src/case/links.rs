//! `[links]`: a case field naming a related case of another workflow (e.g.
//! a KI case and the RAA transition case of the same municipality). Before
//! a case is opened or a step fires, the engine reads the linked case,
//! checks that it is of the named workflow and agrees on the `same` fields,
//! and copies the `take` fields into the event, so that the workflow's
//! guards can compare both cases.

use serde_json::{Map, Value};

use super::{CaseError, Engine};
use crate::account::{Account, Booking};
use crate::store::CaseRow;
use crate::workflow::{Definition, WorkflowError};

impl Engine {
    /// `payload` with the fields the links of `def` take from their linked
    /// cases; `data` is the case as it stands (empty when opening), `this`
    /// its file number (its own bookings do not reduce what it may take).
    pub(super) async fn with_links(
        &self,
        def: &Definition,
        this: Option<&str>,
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
            if !link.account.is_empty() {
                let account = self.account_of(&other, this).await?.ok_or_else(|| {
                    broken(format!(
                        "das Verfahren `{}` führt kein Konto der Mittel",
                        link.workflow
                    ))
                })?;
                for (here, path) in &link.account {
                    let figure = account.figure(path).ok_or_else(|| {
                        broken(format!("das Konto kennt die Angabe „{path}“ nicht"))
                    })?;
                    payload.insert(here.clone(), figure.to_json());
                }
            }
        }
        Ok(payload)
    }

    /// The account of `case` (`[account]` of its workflow), with every case
    /// booked on it except `except`; `None` if its workflow keeps none.
    pub async fn account_of(
        &self,
        case: &CaseRow,
        except: Option<&str>,
    ) -> Result<Option<Account>, CaseError> {
        let def = self.definition_of(case).await?;
        let Some(account) = &def.account else {
            return Ok(None);
        };
        let mut rows = Vec::new();
        for (_, booking_def) in self.catalog().definitions() {
            let Some(bookings) = &booking_def.bookings else {
                continue;
            };
            let Some(link) = booking_def
                .links
                .iter()
                .find(|l| l.name == bookings.link && l.workflow == def.id)
            else {
                continue;
            };
            for row in self
                .store()
                .linked_cases(&booking_def.id, &link.field, case.file_number.as_str())
                .await?
            {
                if Some(row.file_number.as_str()) != except {
                    let own = self.definition_of(&row).await?;
                    rows.push((row, own));
                }
            }
        }
        let booked: Vec<Booking<'_>> = rows
            .iter()
            .filter_map(|(row, own)| {
                own.bookings.as_ref().map(|spec| Booking {
                    state: row.state.as_str(),
                    data: &row.data,
                    spec,
                })
            })
            .collect();
        crate::account::compute(account, &case.data, &booked)
            .map(Some)
            .map_err(|e| CaseError::invalid(account.total.clone(), e))
    }
}
