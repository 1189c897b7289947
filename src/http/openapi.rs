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
        super::portal::list_uploads,
        super::portal::upload_api,
        super::portal::upload_file,
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
    modifiers(&Security, &CommonResponses),
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

/// Answers every operation can give besides its own: 400 for a malformed
/// request (query, path or body), 415 where a JSON body is expected but
/// another type came, 422 for a body that does not fit its schema. Both are problem details.
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |text: &str| {
            ResponseBuilder::new()
                .description(text)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                if has_params || op.request_body.is_some() {
                    op.responses
                        .responses
                        .entry("400".into())
                        .or_insert_with(|| {
                            problem("Ungültige Anfrage (Parameter oder Inhalt nicht lesbar)").into()
                        });
                }
                if op.request_body.is_some() {
                    op.responses
                        .responses
                        .entry("415".into())
                        .or_insert_with(|| problem("Inhalt muss application/json sein").into());
                    op.responses
                        .responses
                        .entry("422".into())
                        .or_insert_with(|| problem("Inhalt passt nicht zum Schema (fehlendes oder falsch getyptes Feld)").into());
                }
            }
        }
    }
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "Betrieb", security(()),
    responses((status = 200, description = "Dieses Dokument (OpenAPI 3.1)", body = Object)))]
pub async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
