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
    modifiers(&Security, &CommonResponses, &Links),
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

/// OpenAPI links between operations: where a file number, a letter's hash
/// or an upload's number in one answer is the parameter of the next
/// request. Clients can follow them; schemathesis's stateful phase walks
/// them (open a case, read it, its letters and uploads, fire a step).
struct Links;

/// (path, method, status, operation it leads to, its parameters as
/// runtime expressions).
const LINKS: &[(&str, &str, &str, &str, &[(&str, &str)])] = &[
    (
        "/api/v1/cases",
        "post",
        "201",
        "show_case",
        &[("file_number", "$response.body#/file_number")],
    ),
    (
        "/api/v1/cases",
        "post",
        "201",
        "history",
        &[("file_number", "$response.body#/file_number")],
    ),
    (
        "/api/v1/cases",
        "post",
        "201",
        "deadlines",
        &[("file_number", "$response.body#/file_number")],
    ),
    (
        "/api/v1/cases",
        "post",
        "201",
        "case_documents",
        &[("file_number", "$response.body#/file_number")],
    ),
    (
        "/api/v1/cases",
        "post",
        "201",
        "list_uploads",
        &[("file_number", "$response.body#/file_number")],
    ),
    (
        "/api/v1/cases",
        "post",
        "201",
        "upload_api",
        &[("file_number", "$response.body#/file_number")],
    ),
    (
        "/api/v1/cases",
        "post",
        "201",
        "fire",
        &[("file_number", "$response.body#/file_number")],
    ),
    (
        "/api/v1/cases",
        "post",
        "201",
        "preview",
        &[("file_number", "$response.body#/file_number")],
    ),
    (
        "/api/v1/cases",
        "get",
        "200",
        "show_case",
        &[("file_number", "$response.body#/items/0/file_number")],
    ),
    (
        "/api/v1/cases",
        "get",
        "200",
        "case_documents",
        &[("file_number", "$response.body#/items/0/file_number")],
    ),
    (
        "/api/v1/cases",
        "get",
        "200",
        "list_uploads",
        &[("file_number", "$response.body#/items/0/file_number")],
    ),
    (
        "/api/v1/cases/{file_number}",
        "get",
        "200",
        "fire",
        &[
            ("file_number", "$response.body#/file_number"),
            ("transition", "$response.body#/steps/0/transition"),
        ],
    ),
    (
        "/api/v1/cases/{file_number}",
        "get",
        "200",
        "preview",
        &[
            ("file_number", "$response.body#/file_number"),
            ("transition", "$response.body#/steps/0/transition"),
        ],
    ),
    (
        "/api/v1/cases/{file_number}",
        "get",
        "200",
        "history",
        &[("file_number", "$request.path.file_number")],
    ),
    (
        "/api/v1/cases/{file_number}",
        "get",
        "200",
        "deadlines",
        &[("file_number", "$request.path.file_number")],
    ),
    (
        "/api/v1/cases/{file_number}/documents",
        "get",
        "200",
        "document",
        &[("sha256", "$response.body#/0/sha256")],
    ),
    (
        "/api/v1/cases/{file_number}/uploads",
        "get",
        "200",
        "upload_file",
        &[
            ("file_number", "$request.path.file_number"),
            ("id", "$response.body#/0/id"),
        ],
    ),
    (
        "/api/v1/cases/{file_number}/uploads",
        "post",
        "201",
        "upload_file",
        &[
            ("file_number", "$request.path.file_number"),
            ("id", "$response.body#/id"),
        ],
    ),
    (
        "/api/v1/cases/{file_number}/fire/{transition}",
        "post",
        "200",
        "case_documents",
        &[("file_number", "$request.path.file_number")],
    ),
    (
        "/api/v1/cases/{file_number}/fire/{transition}",
        "post",
        "200",
        "show_case",
        &[("file_number", "$request.path.file_number")],
    ),
    (
        "/api/v1/workflows",
        "get",
        "200",
        "workflow",
        &[("id", "$response.body#/0/id")],
    ),
    (
        "/api/v1/workflows",
        "get",
        "200",
        "workflow_graph",
        &[("id", "$response.body#/0/id")],
    ),
    (
        "/api/v1/outbox",
        "get",
        "200",
        "outbox_retry",
        &[("id", "$response.body#/0/id")],
    ),
];

impl utoipa::Modify for Links {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::link::LinkBuilder;
        for (path, method, status, target, params) in LINKS {
            let item = openapi
                .paths
                .paths
                .get_mut(*path)
                .unwrap_or_else(|| panic!("OpenAPI link from {path}, which is not documented"));
            let op = match *method {
                "get" => item.get.as_mut(),
                _ => item.post.as_mut(),
            }
            .unwrap_or_else(|| {
                panic!("OpenAPI link from {method} {path}, which is not documented")
            });
            let Some(RefOr::T(response)) = op.responses.responses.get_mut(*status) else {
                panic!("OpenAPI link from {method} {path} {status}, which is not documented");
            };
            let link = params
                .iter()
                .fold(
                    LinkBuilder::new().operation_id(*target),
                    |b, (name, expr)| b.parameter(*name, *expr),
                )
                .build();
            response.links.insert((*target).to_string(), RefOr::T(link));
        }
    }
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "Betrieb", security(()),
    responses((status = 200, description = "Dieses Dokument (OpenAPI 3.1)", body = Object)))]
pub async fn openapi_json() -> axum::Json<serde_json::Value> {
    axum::Json(document())
}

/// The document as served. utoipa 5 writes a link's `operationId` as
/// `operation_id` (and `requestBody` as `request_body`), which no client
/// reads; they are renamed here as OpenAPI spells them.
pub fn document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
    let links = doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut())
        .filter_map(|op| op.get_mut("responses").and_then(|r| r.as_object_mut()))
        .flat_map(|responses| responses.values_mut())
        .filter_map(|response| response.get_mut("links").and_then(|l| l.as_object_mut()))
        .flat_map(|links| links.values_mut())
        .filter_map(|link| link.as_object_mut());
    for link in links {
        for (from, to) in [
            ("operation_id", "operationId"),
            ("operation_ref", "operationRef"),
            ("request_body", "requestBody"),
        ] {
            if let Some(v) = link.remove(from) {
                link.insert(to.to_string(), v);
            }
        }
    }
    doc
}
