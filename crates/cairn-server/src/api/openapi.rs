//! The admin API described as OpenAPI 3.1, served at `/api/openapi.json`.
//!
//! Every operation is one row of [`operations`]: its method and path
//! template, the endpoint name [`AdminEndpoint::parse`] gives it (the
//! operation id, so the route table and this document cannot drift apart
//! unnoticed: the tests parse every row's path and compare), its query and
//! body schemas generated from the handlers' own request types
//! (`schemars::JsonSchema`), and what it answers.

use super::{handlers as h, sboms, search, vulns};
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

/// How a request carries its input.
enum Input {
    None,
    /// A JSON body of this schema.
    Json(Value),
    /// Raw bytes of this media type.
    Raw(&'static str),
}

/// One operation of the admin API.
pub(super) struct Operation {
    pub method: &'static str,
    /// Below `/api/v1`, with `{name}` path parameters.
    pub path: &'static str,
    /// The endpoint's name (`AdminEndpoint::name`).
    pub id: &'static str,
    summary: &'static str,
    tag: &'static str,
    /// The query's schema (an object whose properties are the parameters).
    query: Option<Value>,
    input: Input,
    /// The success status and the body's schema (`None`: no body).
    ok: (u16, Option<Value>),
    /// Whether the operation answers without a credential.
    open: bool,
}

fn schema<T: JsonSchema>() -> Value {
    let mut generator = SchemaGenerator::default();
    let mut s = serde_json::to_value(generator.root_schema_for::<T>()).expect("a schema");
    if let Some(o) = s.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
    }
    s
}

/// An object with these properties, all present.
fn object(props: &[(&str, Value)]) -> Value {
    let properties: Map<String, Value> = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let required: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
    json!({ "type": "object", "properties": properties, "required": required })
}

fn list_of(item: Value) -> Value {
    json!({ "type": "array", "items": item })
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn integer() -> Value {
    json!({ "type": "integer" })
}

fn any_object() -> Value {
    json!({ "type": "object" })
}

/// `{"<key>": [objects]}`.
fn listing(key: &str) -> Value {
    object(&[(key, list_of(any_object()))])
}

fn token() -> Value {
    object(&[
        ("id", string()),
        ("user", string()),
        ("description", string()),
        ("scopes", list_of(string())),
        ("created_at", integer()),
    ])
}

/// An optional `{"reason": "..."}` (an empty body or `null` is none).
fn reason() -> Value {
    json!({
        "type": ["object", "null"],
        "properties": { "reason": { "type": ["string", "null"] } },
        "additionalProperties": false
    })
}

/// A version change's body, one shape per action (the handler reads them
/// as one struct, `h::VersionChange`, and says which fields an action needs).
fn version_change() -> Value {
    let action = |name: &str, props: Value, required: &[&str]| {
        let mut properties = json!({ "action": { "const": name } });
        for (k, v) in props.as_object().into_iter().flatten() {
            properties[k] = v.clone();
        }
        let mut needed = vec!["action"];
        needed.extend_from_slice(required);
        json!({ "type": "object", "properties": properties, "required": needed, "additionalProperties": false })
    };
    let text = json!({ "type": "string", "pattern": "\\S" });
    json!({ "oneOf": [
        action("yank", json!({ "reason": { "type": ["string", "null"], "description": "shown by pip and uv" } }), &[]),
        action("unyank", json!({}), &[]),
        action("deprecate", json!({ "message": text }), &["message"]),
        action("undeprecate", json!({}), &[]),
        action("unpublish", json!({ "force": { "type": "boolean", "description": "outside the policy: needs admin, audited as an override" } }), &[]),
    ] })
}

fn job() -> Value {
    object(&[("id", string()), ("kind", string()), ("state", string())])
}

#[allow(clippy::too_many_arguments)]
fn op(
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    query: Option<Value>,
    input: Input,
    ok: (u16, Option<Value>),
) -> Operation {
    Operation {
        method,
        path,
        id,
        summary,
        tag,
        query,
        input,
        ok,
        open: false,
    }
}

/// Every operation of the admin API.
pub(super) fn operations() -> Vec<Operation> {
    use Input::{Json, None as NoInput, Raw};
    let q = |s: Value| Some(s);
    let status_totp = object(&[
        ("user", string()),
        ("enabled", json!({"type": "boolean"})),
        ("pending", json!({"type": "boolean"})),
        ("recovery_codes_left", integer()),
    ]);
    let mut ops = vec![
        op("get", "/search", "search", "search", "Search names, digests, purls and annotations across every format (only what the caller may read)", q(schema::<search::SearchQuery>()), NoInput, (200, Some(object(&[("query", string()), ("hits", list_of(any_object()))])))),
        op("post", "/session", "session_sign_in", "sessions", "A person signs in (password, and a one-time password when enrolled): a session cookie, or a token for `cairn login`", None, Json(schema::<h::SignIn>()), (200, Some(object(&[("user", string()), ("expires_at", integer()), ("two_factor", json!({"type": "boolean"}))])))),
        op("get", "/session", "session_info", "sessions", "Who the caller is, whether an administrator, the second factor's state, the session's CSRF token", None, NoInput, (200, Some(object(&[("user", string()), ("admin", json!({"type": "boolean"})), ("two_factor", string())])))),
        op("delete", "/session", "session_sign_out", "sessions", "Signs out: the session's token is revoked", None, NoInput, (204, None)),
        op("get", "/session/methods", "session_methods", "sessions", "How a person may sign in here (password, single sign-on)", None, NoInput, (200, Some(object(&[("password", json!({"type": "boolean"})), ("oidc", json!({"type": ["object", "null"]}))])))),
        op("get", "/session/oidc", "session_sso_start", "sessions", "Single sign-on: redirects the browser to the OpenID Connect provider", q(json!({"type": "object", "properties": {"return_to": {"type": "string"}}})), NoInput, (303, None)),
        op("post", "/session/web", "session_web_start", "sessions", "A command-line client starts a web sign-in (`cairn login --web`): the address a person approves it at, and the one the client polls", None, NoInput, (201, Some(object(&[("id", string()), ("login_url", string()), ("done_url", string()), ("expires_in", integer())])))),
        op("get", "/session/web/{id}", "session_web", "sessions", "A started web sign-in, for its approval page: which client, from where, when, and its status", None, NoInput, (200, Some(object(&[("id", string()), ("client", string()), ("created_at", integer()), ("expires_at", integer()), ("status", string())])))),
        op("post", "/session/web/{id}/approve", "session_web_approve", "sessions", "A person approves a web sign-in, from a browser session of the web UI", None, NoInput, (200, Some(object(&[("id", string()), ("approved", json!({"type": "boolean"})), ("user", string())])))),
        op("get", "/session/web/{id}/token", "session_web_token", "sessions", "The client's poll: 202 with Retry-After while it waits, the session token once approved, then 404", q(schema::<super::web_login::TokenQuery>()), NoInput, (200, Some(object(&[("token", string()), ("user", string())])))),
        op("get", "/session/oidc/callback", "session_sso_callback", "sessions", "Single sign-on: the provider sends the browser back here; a session starts (or the sign-in page shows why not)", q(json!({"type": "object", "properties": {"code": {"type": "string"}, "state": {"type": "string"}, "error": {"type": "string"}, "error_description": {"type": "string"}}})), NoInput, (303, None)),
        op("get", "/tokens", "token_list", "tokens", "API tokens: the caller's own, or a user's (administrators)", q(schema::<h::UserQuery>()), NoInput, (200, Some(object(&[("tokens", list_of(token()))])))),
        op("post", "/tokens", "token_create", "tokens", "Makes an API token (the secret is shown once)", None, Json(schema::<h::NewToken>()), (201, Some(object(&[("id", string()), ("token", string())])))),
        op("delete", "/tokens/{id}", "token_revoke", "tokens", "Revokes an API token", None, NoInput, (204, None)),
        op("post", "/users", "user_create", "users", "Makes a user with a random password (shown once)", None, Json(schema::<h::NewUser>()), (201, Some(object(&[("name", string()), ("grants", list_of(string())), ("password", string())])))),
        op("put", "/users/{user}/grants", "user_grants", "users", "Replaces a user's own grants", None, Json(schema::<h::Grants>()), (200, Some(object(&[("name", string()), ("grants", list_of(string()))])))),
        op("get", "/users/{user}/totp", "totp_status", "two-factor", "A person's two-factor state", None, NoInput, (200, Some(status_totp))),
        op("post", "/users/{user}/totp", "totp_start", "two-factor", "Starts a TOTP enrolment (the secret, once)", None, NoInput, (201, Some(object(&[("user", string()), ("secret", string()), ("otpauth_url", string())])))),
        op("post", "/users/{user}/totp/confirm", "totp_confirm", "two-factor", "A first code turns TOTP on; answers the recovery codes (once)", None, Json(schema::<h::Code>()), (200, Some(object(&[("user", string()), ("enabled", json!({"type": "boolean"})), ("recovery_codes", list_of(string()))])))),
        op("delete", "/users/{user}/totp", "totp_disable", "two-factor", "Turns TOTP off (a current code in the body, or an administrator)", None, Raw("application/json"), (204, None)),
        op("post", "/users/{user}/totp/recovery-codes", "totp_recovery_codes", "two-factor", "New recovery codes (the old ones stop working)", None, Json(schema::<h::Code>()), (200, Some(object(&[("user", string()), ("recovery_codes", list_of(string()))])))),
        op("get", "/audit", "audit", "audit", "The append-only audit log, newest first, filtered", q(schema::<h::AuditQuery>()), NoInput, (200, Some(listing("entries")))),
        op("get", "/publishers", "publisher_list", "trusted publishing", "Trusted publishers of a repository", q(schema::<h::RepoQuery>()), NoInput, (200, Some(listing("publishers")))),
        op("post", "/publishers", "publisher_add", "trusted publishing", "Registers a trusted publisher", None, Json(schema::<h::NewPublisher>()), (201, Some(any_object()))),
        op("post", "/oidc/exchange", "oidc_exchange", "trusted publishing", "Exchanges a CI job's OIDC token for a short-lived publish token", None, Json(schema::<h::Exchange>()), (200, Some(object(&[("token", string()), ("expires_in", integer())])))),
        op("post", "/secret-scanning/report", "secret_report", "security", "Leaked cairn tokens reported by a secret-scanning partner (signed): revoked", None, Raw("application/json"), (200, Some(list_of(any_object())))),
        op("get", "/quarantine", "quarantine_list", "security", "What secret scanning holds back", None, NoInput, (200, Some(listing("quarantined")))),
        op("post", "/quarantine/{digest}/release", "quarantine_release", "security", "Releases a held artifact", None, NoInput, (204, None)),
        op("get", "/repositories", "repositories", "repositories", "The repositories the caller may read: proxy (with the upstream), virtual (with the members) and hosted", None, NoInput, (200, Some(object(&[("repositories", list_of(object(&[("format", string()), ("name", string()), ("kind", json!({"type": "string", "enum": ["hosted", "proxy", "virtual"]}))])))])))),
        op("get", "/repository", "repository", "repositories", "What a hosted repository holds: an image repository's tags (newest first, each with its digest), a package repository's packages", q(schema::<h::RepositoryQuery>()), NoInput, (200, Some(object(&[("format", string()), ("name", string()), ("more", json!({"type": "boolean"}))])))),
        op("get", "/image", "image", "images", "What an image is: media type and size, an index's platforms, an image's config and layers, the tags naming it, its referrers and cosign tags, when it was pushed (and by whom) and last pulled", q(schema::<h::ImageQuery>()), NoInput, (200, Some(object(&[("repository", string()), ("digest", string()), ("pushed_at", json!({"type": ["integer", "null"]})), ("pulled_at", json!({"type": ["integer", "null"]})), ("pushed_by", json!({"type": ["object", "null"]})), ("media_type", string()), ("size", integer()), ("tags", list_of(string())), ("platforms", list_of(object(&[("digest", string()), ("size", integer())]))), ("layers", list_of(object(&[("digest", string()), ("media_type", string()), ("size", integer())]))), ("layers_size", integer()), ("referrers", list_of(object(&[("digest", string()), ("media_type", string()), ("size", integer())]))), ("cosign_tags", list_of(string())), ("signatures", list_of(object(&[("subject", string()), ("signer", string()), ("predicate_type", string()), ("signature", string())]))), ("may", object(&[("delete", json!({"type": "boolean"}))]))])))),
        op("delete", "/image/tags", "image_tag_delete", "images", "Removes a tag (the manifest stays), under the tag rules", q(schema::<h::TagQuery>()), NoInput, (204, None)),
        op("get", "/packages/{format}/{repository}/{package}", "package", "packages", "A package's versions, newest first: state and message, files, publisher; dist-tags; the versions of other packages depending on it (in repositories the caller may read); what the caller may change", None, NoInput, (200, Some(object(&[("format", string()), ("repository", string()), ("package", string()), ("name", string()), ("dependents", list_of(object(&[("repository", string()), ("package", string()), ("version", string())]))), ("versions", list_of(object(&[("version", string()), ("state", string()), ("published_at", integer()), ("files", list_of(object(&[("filename", string()), ("digest", string()), ("size", integer())])))]))), ("may", object(&[("yank", json!({"type": "boolean"})), ("force", json!({"type": "boolean"}))]))])))),
        op("post", "/packages/{format}/{repository}/{package}/versions/{version}", "version_change", "packages", "Yank, unyank, deprecate, undeprecate or unpublish a package version", None, Json(version_change()), (200, Some(object(&[("package", string()), ("version", string()), ("state", string())])))),
        op("get", "/maven/{repository}/staging", "staging_list", "maven", "Maven staging repositories", None, NoInput, (200, Some(listing("staging")))),
        op("post", "/maven/{repository}/staging/{id}/{action}", "staging_change", "maven", "Close, release or drop a staging repository", None, NoInput, (200, Some(any_object()))),
        op("get", "/proxies/{format}/{repository}/cache", "proxy_cache", "proxies", "What a proxy repository has cached (format `oci` for an image proxy)", q(schema::<h::CacheQuery>()), NoInput, (200, Some(any_object()))),
        op("delete", "/proxies/{format}/{repository}/cache/{key}", "proxy_cache_drop", "proxies", "Drops one cached entry", None, NoInput, (204, None)),
        op("get", "/virtuals/{format}/{repository}/resolve", "virtual_resolve", "virtual repositories", "Where a name (and version) would come from through a virtual repository, and why", q(schema::<h::ResolveQuery>()), NoInput, (200, Some(any_object()))),
        op("get", "/virtuals/{format}/{repository}/cooldown-exempt", "virtual_exemption_list", "virtual repositories", "Owners' exemptions from the cooldown", None, NoInput, (200, Some(object(&[("repository", string()), ("exempt", list_of(any_object()))])))),
        op("put", "/virtuals/{format}/{repository}/cooldown-exempt/{package}", "virtual_exemption_change", "virtual repositories", "Exempts a package (or one version) from the cooldown", q(schema::<h::VersionQuery>()), Json(reason()), (200, Some(any_object()))),
        op("delete", "/virtuals/{format}/{repository}/cooldown-exempt/{package}", "virtual_exemption_change", "virtual repositories", "Ends a cooldown exemption", q(schema::<h::VersionQuery>()), NoInput, (204, None)),
        op("get", "/virtuals/{format}/{repository}/external", "virtual_external_list", "virtual repositories", "Owners' exceptions to name ownership", None, NoInput, (200, Some(object(&[("repository", string()), ("external", list_of(any_object()))])))),
        op("put", "/virtuals/{format}/{repository}/external/{package}", "virtual_external_change", "virtual repositories", "Allows external versions of an owned name", None, Json(reason()), (200, Some(any_object()))),
        op("delete", "/virtuals/{format}/{repository}/external/{package}", "virtual_external_change", "virtual repositories", "Stops allowing external versions of an owned name", None, NoInput, (204, None)),
        op("get", "/gc", "gc_status", "storage", "Blob rows by garbage-collection state", None, NoInput, (200, Some(any_object()))),
        op("post", "/gc", "gc_run", "storage", "One collector run now; answers its report", q(schema::<h::GcQuery>()), NoInput, (200, Some(object(&[("report", any_object()), ("summary", string())])))),
        op("get", "/storage", "storage", "storage", "Logical, unique and exclusive bytes for a prefix, by repository or by namespace", q(schema::<h::StorageQuery>()), NoInput, (200, Some(any_object()))),
        op("get", "/quotas", "quota_list", "storage", "Every quota with its scope's use", None, NoInput, (200, Some(listing("quotas")))),
        op("put", "/quotas", "quota_set", "storage", "Sets a quota on a namespace or repository", q(schema::<h::ScopeQuery>()), Json(schema::<h::QuotaBody>()), (200, Some(object(&[("scope", string()), ("max_unique_bytes", integer()), ("unique", integer())])))),
        op("delete", "/quotas", "quota_remove", "storage", "Removes a quota", q(schema::<h::ScopeQuery>()), NoInput, (204, None)),
        op("get", "/jobs", "job_list", "jobs", "The most recent maintenance jobs", None, NoInput, (200, Some(object(&[("jobs", list_of(job()))])))),
        op("post", "/jobs", "job_start", "jobs", "Starts a maintenance job (gc, retention, fsck, backup)", None, Json(schema::<crate::jobs::JobRequest>()), (202, Some(job()))),
        op("get", "/jobs/{id}", "job", "jobs", "A job's state, progress and result", None, NoInput, (200, Some(job()))),
        op("delete", "/jobs/{id}", "job_cancel", "jobs", "Asks a running job to stop", None, NoInput, (202, None)),
        op("get", "/retention", "retention_preview", "storage", "What the retention policies would delete, and why", None, NoInput, (200, Some(object(&[("plans", list_of(any_object()))])))),
        op("post", "/retention", "retention_apply", "storage", "Carries the retention policies out now", None, NoInput, (200, Some(object(&[("plans", list_of(any_object())), ("report", any_object())])))),
        op("post", "/warm", "warm_start", "proxies", "Warms the caches from a lockfile (a job)", None, Json(schema::<h::WarmRequest>()), (202, Some(any_object()))),
        op("get", "/warm/{id}", "warm_job", "proxies", "A warm job's progress", None, NoInput, (200, Some(any_object()))),
        op("get", "/components", "components", "sboms", "Artifacts whose SBOMs name a component (purl and version range)", q(schema::<sboms::ComponentParams>()), NoInput, (200, Some(object(&[("results", list_of(any_object()))])))),
        op("get", "/sboms", "sbom_list", "sboms", "A subject's SBOMs", q(schema::<sboms::SubjectParams>()), NoInput, (200, Some(listing("sboms")))),
        op("put", "/sboms", "sbom_attach", "sboms", "Attaches an SBOM (the body) to a package version", q(schema::<sboms::SubjectParams>()), Raw("application/json"), (201, Some(any_object()))),
        op("delete", "/sboms", "sbom_remove", "sboms", "Removes an SBOM from a package version", q(schema::<sboms::SubjectParams>()), NoInput, (204, None)),
        op("get", "/sboms/document", "sbom_document", "sboms", "An SBOM document, as attached", q(schema::<sboms::SubjectParams>()), NoInput, (200, None)),
        op("get", "/attestations", "attestation_list", "signatures", "cairn's publish attestations of a package version", q(schema::<sboms::SubjectParams>()), NoInput, (200, Some(listing("attestations")))),
        op("get", "/attestations/keys", "attestation_keys", "signatures", "The public keys that verify cairn's attestations", None, NoInput, (200, Some(listing("keys")))),
        op("get", "/advisories/{id}", "advisory", "vulnerabilities", "An advisory and what it affects here", None, NoInput, (200, Some(object(&[("advisory", any_object()), ("findings", list_of(any_object())), ("data", any_object())])))),
        op("get", "/findings", "findings", "vulnerabilities", "Vulnerability findings of an artifact or a repository", q(schema::<sboms::SubjectParams>()), NoInput, (200, Some(object(&[("findings", list_of(any_object())), ("data", any_object())])))),
        op("get", "/policy/explain", "policy_explain", "signatures", "Why a pull of an image would be served or refused", q(schema::<h::ImageQuery>()), NoInput, (200, Some(any_object()))),
        op("get", "/vuln-exceptions", "vuln_exception_list", "vulnerabilities", "Exceptions to the vulnerability policies", None, NoInput, (200, Some(listing("exceptions")))),
        op("put", "/vuln-exceptions", "vuln_exception_set", "vulnerabilities", "Sets an exception (it always expires)", q(schema::<vulns::ExceptionParams>()), Json(schema::<vulns::ExceptionBody>()), (201, Some(any_object()))),
        op("delete", "/vuln-exceptions", "vuln_exception_remove", "vulnerabilities", "Removes an exception", q(schema::<vulns::ExceptionParams>()), NoInput, (204, None)),
    ];
    // Open where the route table says no credential is needed.
    for o in &mut ops {
        let method =
            axum::http::Method::from_bytes(o.method.to_uppercase().as_bytes()).expect("a method");
        o.open = super::AdminEndpoint::parse(&method, o.path)
            .map(|e| !e.needs_credential())
            .unwrap_or(false);
    }
    ops
}

/// The query schema's properties as OpenAPI parameters.
fn query_parameters(query: &Value) -> Vec<Value> {
    let required: Vec<&str> = query["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    query["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .map(|(name, s)| {
                    let mut s = s.clone();
                    let description = s
                        .as_object_mut()
                        .and_then(|o| o.remove("description"))
                        .unwrap_or(Value::Null);
                    let mut p = json!({
                        "name": name,
                        "in": "query",
                        "required": required.contains(&name.as_str()),
                        "schema": s,
                    });
                    if !description.is_null() {
                        p["description"] = description;
                    }
                    p
                })
                .collect()
        })
        .unwrap_or_default()
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let schema = if name == "format" {
                json!({ "type": "string", "enum": ["npm", "pypi", "cargo", "go", "maven"] })
            } else {
                json!({ "type": "string", "minLength": 1, "pattern": "^[^/]+$" })
            };
            json!({ "name": name, "in": "path", "required": true, "schema": schema })
        })
        .collect()
}

/// Refusals particular to one operation, beside the shared ones.
fn own_refusals(id: &str) -> &'static [(&'static str, &'static str)] {
    match id {
        "sbom_attach" => &[(
            "422",
            "the body is not an SPDX 2.x or CycloneDX 1.x JSON document cairn reads",
        )],
        _ => &[],
    }
}

/// What every operation may answer instead, always with `{"error": "..."}`.
const REFUSALS: [(&str, &str); 7] = [
    ("400", "the request is malformed (the message says how)"),
    (
        "401",
        "a credential is needed, or the one sent is not valid",
    ),
    ("403", "the caller may not do this"),
    ("404", "no such thing (or not visible to the caller)"),
    ("409", "it conflicts with what is stored"),
    ("413", "the body is too large"),
    (
        "429",
        "too many requests or failed sign-ins from this source",
    ),
];

/// The whole document.
pub fn document() -> Value {
    let refusals: Map<String, Value> = REFUSALS
        .iter()
        .map(|(code, why)| {
            let body = json!({
                "description": why,
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
            });
            (code.to_string(), body)
        })
        .collect();
    let mut paths = Map::new();
    for o in operations() {
        let mut operation = json!({
            "operationId": format!("{}_{}", o.id, o.method),
            "summary": o.summary,
            "tags": [o.tag],
            "parameters": path_parameters(o.path)
                .into_iter()
                .chain(o.query.as_ref().map(query_parameters).unwrap_or_default())
                .collect::<Vec<_>>(),
        });
        operation["x-cairn-endpoint"] = json!(o.id);
        match &o.input {
            Input::None => {}
            Input::Json(s) => {
                operation["requestBody"] = json!({
                    "required": true,
                    "content": { "application/json": { "schema": s } },
                });
            }
            Input::Raw(media) => {
                operation["requestBody"] = json!({
                    "required": false,
                    "content": { *media: { "schema": {} } },
                });
            }
        }
        let mut responses = Map::new();
        let (status, body) = &o.ok;
        responses.insert(
            status.to_string(),
            match body {
                Some(s) => json!({
                    "description": "done",
                    "content": { "application/json": { "schema": s } },
                }),
                None => json!({ "description": "done" }),
            },
        );
        for (code, _) in REFUSALS {
            responses.insert(
                code.to_string(),
                json!({ "$ref": format!("#/components/responses/{code}") }),
            );
        }
        for (code, description) in own_refusals(o.id) {
            responses.insert(
                code.to_string(),
                json!({ "description": description, "content": { "application/json": { "schema": {
                    "type": "object", "properties": { "error": string() }, "required": ["error"]
                } } } }),
            );
        }
        operation["responses"] = Value::Object(responses);
        if o.open {
            operation["security"] = json!([{}, { "basic": [] }, { "bearer": [] }]);
        }
        let path = format!("/api/v1{}", o.path);
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[o.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "cairn admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Users, tokens, sessions, package lifecycle, proxies and virtual repositories, storage, jobs, SBOMs, signatures and vulnerabilities of a cairn registry. Each format's own protocol (OCI, npm, PyPI, Cargo, Go, Maven) is served beside it and documented by its ecosystem.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "basic": [] }, { "bearer": [] }],
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": { "error": { "type": "string" } },
                    "required": ["error"],
                },
            },
            "responses": refusals,
            "securitySchemes": {
                "basic": { "type": "http", "scheme": "basic" },
                "bearer": { "type": "http", "scheme": "bearer" },
                "session": { "type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE },
            },
        },
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    use super::super::endpoint::AdminEndpoint;
    use super::*;
    use std::collections::BTreeSet;

    /// A sample value for a path parameter, to parse a row's path.
    fn sample(param: &str) -> &'static str {
        match param {
            "format" => "npm",
            _ => "x",
        }
    }

    /// Each operation's path as `AdminEndpoint::parse` would see it.
    fn sample_path(path: &str) -> String {
        path.split('/')
            .map(
                |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => sample(name),
                    None => seg,
                },
            )
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Whether `AdminEndpoint::parse` routes `o` to the endpoint it names.
    fn routes_to_itself(o: &Operation) -> Result<(), String> {
        use cairn_http::Endpoint as _;
        let method: axum::http::Method = o.method.to_uppercase().parse().expect("a method");
        let path = sample_path(o.path);
        match AdminEndpoint::parse(&method, &path) {
            Ok(e) if e.name() == o.id => Ok(()),
            Ok(e) => Err(format!(
                "{} {path} parses to {}, not {}",
                o.method,
                e.name(),
                o.id
            )),
            Err(e) => Err(format!("{} {path} does not parse: {e:?}", o.method)),
        }
    }

    #[test]
    fn every_operation_routes_to_the_endpoint_it_names() {
        let failures: Vec<String> = operations()
            .iter()
            .filter_map(|o| routes_to_itself(o).err())
            .collect();
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn every_endpoint_is_documented() {
        // The endpoint names, read from `AdminEndpoint::name`, whose match
        // the compiler keeps exhaustive.
        let source = include_str!("endpoint.rs");
        let body = &source[source.find("fn name(&self)").expect("name()")..];
        let named: BTreeSet<&str> = body
            .lines()
            .filter_map(|l| l.split("=> \"").nth(1)?.split('"').next())
            .collect();
        let documented: BTreeSet<&str> = operations().iter().map(|o| o.id).collect();
        let missing: Vec<_> = named.difference(&documented).collect();
        let unknown: Vec<_> = documented.difference(&named).collect();
        assert!(
            missing.is_empty(),
            "endpoints missing from the OpenAPI document: {missing:?}"
        );
        assert!(
            unknown.is_empty(),
            "operations naming no endpoint: {unknown:?}"
        );
    }

    #[test]
    fn the_committed_document_is_the_generated_one() {
        let generated = serde_json::to_string_pretty(&document()).expect("json") + "\n";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        if std::env::var_os("CAIRN_WRITE_OPENAPI").is_some() {
            std::fs::write(path, &generated).expect("write docs/openapi.json");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/openapi.json is not what the code generates: run \
             `CAIRN_WRITE_OPENAPI=1 cargo test -p cairn-server --lib openapi` and commit it"
        );
    }
}
