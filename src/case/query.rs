//! The read side: cases as clerks see them. [`Engine::detail`] reads a case
//! with its deadlines, journal and documents from one database snapshot.

use super::engine::Engine;
use super::{
    AuditReport, BrokenLinkView, CaseDetail, CaseDifferenceView, CaseError, CaseView, DeadlineView,
    WorkItemView,
};
use crate::akte::Difference;
use crate::deadline;
use crate::domain::{DeadlineStatus, FileNumber};
use crate::journal::{self, Event};
use crate::store::{CaseFilter, CaseRow, DeadlineRow, DocumentRow, WorkQuery};
use crate::workflow::Definition;

impl Engine {
    pub(crate) fn view_of(&self, def: &Definition, case: CaseRow) -> CaseView {
        let state = def.state(&case.state);
        CaseView {
            available: def.available(&case.state),
            workflow_title: def.title.clone(),
            state_title: state.and_then(|s| s.title.clone()),
            closed: state.is_some_and(|s| s.is_final),
            file_number: case.file_number,
            workflow: case.workflow_id,
            workflow_version: case.workflow_version,
            state: case.state,
            version: case.version,
            data: case.data,
            parties: case.parties,
            opened_at: case.opened_at,
            updated_at: case.updated_at,
        }
    }

    async fn view(&self, case: CaseRow) -> Result<CaseView, CaseError> {
        let def = self.definition_of(&case).await?;
        Ok(self.view_of(&def, case))
    }

    fn deadline_view(&self, d: DeadlineRow) -> DeadlineView {
        let today = self.clock().today();
        let due = chrono::NaiveDate::parse_from_str(&d.due_date, "%Y-%m-%d").ok();
        DeadlineView {
            days_left: due
                .filter(|_| d.status == DeadlineStatus::Open)
                .map(|due| deadline::days_left(today, due)),
            name: d.name,
            title: d.title,
            due_date: d.due_date,
            status: d.status,
            legal_basis: d.legal_basis,
            explanation: d.explanation,
        }
    }

    /// A stored workflow version (the one a case runs on).
    pub async fn definition(
        &self,
        workflow: &str,
        version: i64,
    ) -> Result<std::sync::Arc<Definition>, CaseError> {
        Ok(self
            .catalog()
            .version(self.store(), workflow, version)
            .await?)
    }

    /// A case as it stands now.
    pub async fn show(&self, file_number: &str) -> Result<CaseView, CaseError> {
        let case = self.load(file_number).await?;
        self.view(case).await
    }

    /// A case with its deadlines, journal and documents, read together.
    pub async fn detail(&self, file_number: &str) -> Result<CaseDetail, CaseError> {
        let snapshot = self
            .store()
            .case_snapshot(file_number)
            .await?
            .ok_or_else(|| CaseError::NotFound(file_number.into()))?;
        let account = self.account_of(&snapshot.case, None).await?;
        let case = self.view(snapshot.case).await?;
        Ok(CaseDetail {
            account,
            case,
            deadlines: snapshot
                .deadlines
                .into_iter()
                .map(|d| self.deadline_view(d))
                .collect(),
            history: snapshot.events,
            documents: snapshot.documents,
        })
    }

    /// A case's journal, oldest first.
    pub async fn history(&self, file_number: &str) -> Result<Vec<Event>, CaseError> {
        let case = self.load(file_number).await?;
        Ok(self.store().events(case.id).await?)
    }

    /// A case's deadlines with the days left, newest first.
    pub async fn deadlines(&self, file_number: &str) -> Result<Vec<DeadlineView>, CaseError> {
        let case = self.load(file_number).await?;
        Ok(self
            .store()
            .deadlines_of(case.id)
            .await?
            .into_iter()
            .map(|d| self.deadline_view(d))
            .collect())
    }

    /// Documents issued on a case.
    pub async fn case_documents(&self, file_number: &str) -> Result<Vec<DocumentRow>, CaseError> {
        let case = self.load(file_number).await?;
        Ok(self.store().documents(Some(case.id)).await?)
    }

    pub async fn list(&self, filter: &CaseFilter) -> Result<Vec<CaseView>, CaseError> {
        let mut out = Vec::new();
        for case in self.store().list_cases(filter).await? {
            out.push(self.view(case).await?);
        }
        Ok(out)
    }

    /// One page of cases, nearest open deadline first, each with that
    /// deadline's end and the keyset position for the next page.
    pub async fn work_items(&self, wq: &WorkQuery) -> Result<Vec<WorkItemView>, CaseError> {
        let mut out = Vec::new();
        for item in self.store().work_items(wq).await? {
            let key = item.key();
            out.push(WorkItemView {
                next_due: item.next_due,
                key,
                case: self.view(item.case).await?,
            });
        }
        Ok(out)
    }

    /// The mail sent (or queued) on a case, oldest first: a circular's
    /// distribution status per member.
    pub async fn case_mail(
        &self,
        file_number: &str,
    ) -> Result<Vec<crate::store::MailRow>, CaseError> {
        let case = self.load(file_number).await?;
        Ok(self.store().mail_of_case(case.id).await?)
    }

    /// Recomputes the hash chains of one case or of all cases.
    pub async fn audit(&self, file_number: Option<&str>) -> Result<AuditReport, CaseError> {
        let heads = match file_number {
            Some(n) => {
                let c = self.load(n).await?;
                vec![(c.id, c.file_number, c.head_hash)]
            }
            None => self.store().case_heads().await?,
        };
        let mut report = AuditReport {
            cases: heads.len(),
            events: 0,
            broken: Vec::new(),
            differs: Vec::new(),
        };
        for (id, number, head) in heads {
            let events = self.store().events(id).await?;
            report.events += events.len();
            if let Err(link) = journal::verify(id.0, &events, &head) {
                report.broken.push(BrokenLinkView {
                    file_number: number,
                    link,
                });
                continue;
            }
            if let Some(difference) = self.replay_difference(&number, &events).await? {
                report.differs.push(CaseDifferenceView {
                    file_number: number,
                    difference,
                });
            }
        }
        Ok(report)
    }

    /// Replays an intact journal under the case's workflow version and
    /// compares the result with the stored rows: the first item that
    /// differs, if any (an event the workflow cannot have produced counts
    /// as one).
    async fn replay_difference(
        &self,
        number: &FileNumber,
        events: &[journal::Event],
    ) -> Result<Option<Difference>, CaseError> {
        let Some(file) = self.store().case_rows(number).await? else {
            return Ok(None);
        };
        let def = self
            .catalog()
            .version(
                self.store(),
                &file.case.workflow_id,
                file.case.workflow_version,
            )
            .await?;
        Ok(
            match journal::replay::replay(&def, self.config().region, events) {
                Err(e) => Some(Difference {
                    item: format!("journal: event {} ({})", e.seq, e.what),
                    reason: e.reason,
                }),
                Ok(replayed) => crate::akte::first_difference(&file, &replayed),
            },
        )
    }
}
