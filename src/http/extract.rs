//! Extractors that settle, before a handler runs, who is asking in which
//! capacity and which case they ask about: the handler receives the case
//! already loaded and checked visible, or the caller already checked to be
//! office staff or a municipality, so no handler can forget the check and
//! none repeats it.
//!
//! Each extractor keeps the answer its routes gave before: the API answers
//! 401/403/404 problems, a page sends a visitor without login to the login
//! page; a case the caller may not see answers the same German 404 as one
//! that does not exist.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use super::HttpState;
use super::access;
use super::auth::{ApiCaller, Caller, WebCaller};
use super::error::Problem;
use super::service;
use crate::case::{CaseDetail, CaseView};
use crate::workflow::Definition;

/// A door a caller comes through: the API (401 problem without login) or
/// a page (redirect to the login page).
pub trait Door: FromRequestParts<HttpState, Rejection: IntoResponse> + Send {
    fn into_caller(self) -> Caller;
}

impl Door for ApiCaller {
    fn into_caller(self) -> Caller {
        self.0
    }
}

impl Door for WebCaller {
    fn into_caller(self) -> Caller {
        self.0
    }
}

async fn caller<D: Door>(parts: &mut Parts, state: &HttpState) -> Result<Caller, Response> {
    D::from_request_parts(parts, state)
        .await
        .map(Door::into_caller)
        .map_err(IntoResponse::into_response)
}

/// The `{file_number}` segment of the route.
async fn file_number(parts: &mut Parts, state: &HttpState) -> Result<String, Response> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(IntoResponse::into_response)?;
    params
        .iter()
        .find(|(k, _)| *k == "file_number")
        .map(|(_, v)| v.to_string())
        .ok_or_else(|| {
            Problem::internal(&"a case extractor on a route without {file_number}").into_response()
        })
}

/// The case of the route's `{file_number}`, loaded once and checked visible
/// to the caller, with the workflow version it runs on. `D` is the door:
/// [`ApiCaller`] (the default) or [`WebCaller`].
pub struct VisibleCase<D = ApiCaller> {
    pub caller: Caller,
    pub case: CaseView,
    pub def: Arc<Definition>,
    door: PhantomData<fn() -> D>,
}

impl<D: Door> FromRequestParts<HttpState> for VisibleCase<D> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Response> {
        let caller = caller::<D>(parts, state).await?;
        let file_number = file_number(parts, state).await?;
        let (case, def) = service::visible_case(state, &caller, &file_number)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(VisibleCase {
            caller,
            case,
            def,
            door: PhantomData,
        })
    }
}

/// As [`VisibleCase`], with the whole case from one snapshot (deadlines,
/// journal, documents) for a page that shows it all.
pub struct VisibleDetail<D = WebCaller> {
    pub caller: Caller,
    pub detail: CaseDetail,
    pub def: Arc<Definition>,
    door: PhantomData<fn() -> D>,
}

impl<D: Door> FromRequestParts<HttpState> for VisibleDetail<D> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Response> {
        let caller = caller::<D>(parts, state).await?;
        let file_number = file_number(parts, state).await?;
        let (detail, def) = service::visible_detail(state, &caller, &file_number)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(VisibleDetail {
            caller,
            detail,
            def,
            door: PhantomData,
        })
    }
}

/// The answer to anyone but office staff.
fn staff_only() -> Problem {
    Problem::forbidden("Nur für Beschäftigte der Behörde.")
}

/// Office staff calling the API: 401 without login, 403 for a
/// municipality user. Helpers that only staff may reach take a `&Staff`.
pub struct Staff(pub Caller);

impl FromRequestParts<HttpState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Response> {
        let c = caller::<ApiCaller>(parts, state).await?;
        if access::is_office(&c.user) {
            Ok(Staff(c))
        } else {
            Err(staff_only().into_response())
        }
    }
}

/// Office staff on a page that refuses others with the 403 page (an
/// action, e.g. retrying a mail).
pub struct WebStaff(pub Staff);

impl FromRequestParts<HttpState> for WebStaff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Response> {
        let c = caller::<WebCaller>(parts, state).await?;
        if access::is_office(&c.user) {
            Ok(WebStaff(Staff(c)))
        } else {
            Err(staff_only().into_response())
        }
    }
}

/// Office staff on a page a municipality user also finds in the menu:
/// they are sent to their portal instead.
pub struct StaffOrPortal(pub Staff);

impl FromRequestParts<HttpState> for StaffOrPortal {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Response> {
        let c = caller::<WebCaller>(parts, state).await?;
        if access::is_office(&c.user) {
            Ok(StaffOrPortal(Staff(c)))
        } else {
            Err(Redirect::to("/portal").into_response())
        }
    }
}

/// A municipality user in the portal, with the party they act for; an
/// office user is told that the portal is the municipalities'.
pub struct Municipality {
    pub caller: Caller,
    pub party: String,
}

impl FromRequestParts<HttpState> for Municipality {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Response> {
        let caller = caller::<WebCaller>(parts, state).await?;
        match (&caller.user.party, caller.user.is_municipality()) {
            (Some(p), true) => Ok(Municipality {
                party: p.clone(),
                caller,
            }),
            _ => Err(Problem::not_found(
                "Das Portal ist den Kommunen vorbehalten; die Behörde arbeitet im Arbeitskorb.",
            )
            .into_response()),
        }
    }
}
