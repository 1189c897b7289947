//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers'
//! annotations (utoipa), so that it cannot drift from the routes.

use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::api;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "amtspost API",
        description = "Vorgänge, Schritte, Schreiben und Fristen der Bewilligungsbehörde. Anmeldung über POST /api/v1/session (Sitzungs-Cookie) oder Authorization: Bearer TOKEN (amtspost user token NAME).",
        version = "1"
    ),
    paths(
        super::healthz,
        super::readyz,
        api::login,
        api::logout,
        api::whoami,
        api::workflows,
        api::workflow,
        api::workflow_graph,
        api::list_cases,
        api::open_case,
        api::show_case,
        api::history,
        api::deadlines,
        api::case_documents,
        api::fire,
        api::preview,
        api::document,
        api::outbox,
        api::outbox_retry,
        api::audit,
        api::compute_deadline,
        api::assign,
        api::absences,
        api::add_absence_api,
        openapi_json,
    ),
    modifiers(&Security),
    security(("session" = []), ("bearer" = [])),
    tags(
        (name = "Sitzung", description = "Anmelden und abmelden"),
        (name = "Verfahren", description = "Die Verfahrensdefinitionen"),
        (name = "Vorgänge", description = "Vorgänge anlegen, ansehen und Schritte ausführen"),
        (name = "Schreiben", description = "Erlassene Schreiben (PDF/A)"),
        (name = "Postausgang", description = "Mails, die nicht zugestellt werden konnten"),
        (name = "Prüfung", description = "Hash-Ketten des Journals"),
        (name = "Fristen", description = "Fristberechnung nach §§ 187–193 BGB, § 31 VwVfG"),
        (name = "Betrieb", description = "Lebens- und Bereitschaftsprüfung"),
    )
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                super::auth::SESSION_COOKIE,
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "Betrieb", security(()),
    responses((status = 200, description = "Dieses Dokument (OpenAPI 3.1)", body = Object)))]
pub async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
