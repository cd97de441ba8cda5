//! The `presign` function: `POST /presign` turns locators into presigned HTTPS GET URLs for any
//! member of the org; `POST /links` turns them into stable links, and `GET /l/{token}` (no
//! token needed: the link is the capability) redirects a link to a URL presigned on the spot,
//! through exactly the rules a presign follows. One result per locator, in input order; one bad
//! locator never fails the batch. A batch costs at most one DynamoDB read (the org's integrations
//! are cached briefly) and one `AssumeRole` per integration whose credentials are cold (two when
//! no recorded proof shows that the role demands the org's external ID: the probe of
//! [`shared::aws::trust`]). No URL is issued through a role without that proof, nor through a
//! role in the platform's own account.
//! An `s3_compatible` integration signs with its store's own keys (no session token), at its
//! endpoint, in its addressing style and region; its secret is opened through KMS once per
//! integration version and warm instance.

use lambda_http::{Body, Request, Response};
use serde_json::Value;
use shared::api;
use shared::api::auth::ClaimNames;
use shared::api::config::{ConfigError, Env, LinkKeySource, LinkSettings};
use shared::api::error::{ApiError, LinkRefusal};
use shared::api::metrics::{Deltas, Emf, Metric, Unit};
use shared::api::routes::Route;
use shared::aws::credentials::{AssumeFailure, CacheConfig, CredentialCache, Lease, TempCredentials};
use shared::aws::link_keys::Keyring;
use shared::aws::secrets::{SecretError, SharedSealer};
use shared::aws::store::SharedStore;
use shared::aws::trust::{Gate, PlatformIdentity};
use shared::domain::delivery::{DownloadName, MediaType};
use shared::domain::external_id::{ExternalId, ExternalIds};
use shared::domain::integration::{Access, Integration, S3Compatible};
use shared::domain::lifetime::UrlLifetime;
use shared::domain::link::{Link, LinkError};
use shared::domain::locator::{Locator, S3Locator};
use shared::domain::org::OrgId;
use shared::domain::presign::{Delivery, Method, PresignRequest, Presigner, S3Endpoint, SigningCredentials};
use shared::domain::s3_compatible::SecretAccessKey;
use shared::domain::scope::{resolve, NoMatch};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

pub const MAX_LOCATORS: usize = 1000;
/// The most a Lambda function may return to API Gateway (6 MB, the response payload quota).
/// A batch of long keys signed with a long session token can need more; see [`fits_in_a_response`].
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;
/// 1,000 locators of a typical 100-200 bytes fit in well under this.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long an opened store secret is kept in a warm instance (a replace makes a new version,
/// which is opened anew at once).
pub const STORE_KEYS_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone)]
pub struct PresignConfig {
    pub table_name: String,
    pub s3_endpoint: S3Endpoint,
    /// `expires_in`'s bounds ([`UrlLifetime`]).
    pub lifetime: UrlLifetime,
    pub integration_cache_ttl: Duration,
    pub credentials: CacheConfig,
    pub claims: ClaimNames,
    /// The platform's account and partition (from `PLATFORM_PRINCIPAL_ARN`): roles there are never assumed.
    pub platform: PlatformIdentity,
    /// The KMS key that seals S3-compatible stores' secrets (`SECRETS_KMS_KEY_ID`).
    pub secrets_key_id: String,
    /// Stable links: keys, lifetimes (`LINK_*`).
    pub links: LinkSettings,
    /// `LINK_BASE_URL`: where links point (`https://api.example.com/v1`), when the API is not
    /// reached at its own host's root; by default the host the request came to.
    pub link_base_url: Option<String>,
}

impl PresignConfig {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        use shared::api::config::{number, required};
        let s3_endpoint = S3Endpoint::from_override(env.var("S3_ENDPOINT_URL").as_deref())
            .map_err(|message| ConfigError { variable: "S3_ENDPOINT_URL", message })?;
        let mut credentials = CacheConfig::default();
        let lifetime =
            shared::api::config::url_lifetime(env, credentials.session_duration, credentials.safety_margin)?;
        let cache_secs = number(
            env,
            "INTEGRATION_CACHE_SECONDS",
            30u64,
            |v| *v <= 300,
            "a number of seconds from 0 to 300",
        )?;
        let negative_secs = number(
            env,
            "ASSUME_FAILURE_CACHE_SECONDS",
            30u64,
            |v| *v <= 600,
            "a number of seconds from 0 to 600",
        )?;
        credentials.denied_ttl = Duration::from_secs(negative_secs);
        let platform =
            shared::api::config::platform_identity(&shared::api::config::platform_principal(env)?)?;
        let links =
            shared::api::config::link_settings(env, credentials.session_duration, credentials.safety_margin)?;
        let link_base_url = env
            .var("LINK_BASE_URL")
            .map(|raw| {
                let base = raw.trim().trim_end_matches('/');
                let ok = url::Url::parse(base).is_ok_and(|u| {
                    matches!(u.scheme(), "https" | "http") && u.query().is_none() && u.fragment().is_none()
                });
                ok.then(|| base.to_owned()).ok_or_else(|| ConfigError {
                    variable: "LINK_BASE_URL",
                    message: format!(
                        "{raw:?} is not an http(s) URL without query or fragment (https://api.example.com/v1)"
                    ),
                })
            })
            .transpose()?;
        Ok(Self {
            links,
            link_base_url,
            platform,
            table_name: required(env, "TABLE_NAME", "the DynamoDB table of integrations")?,
            secrets_key_id: shared::api::config::secrets_key_id(env)?,
            s3_endpoint,
            lifetime,
            integration_cache_ttl: Duration::from_secs(cache_secs),
            credentials,
            claims: shared::api::config::claim_names(env),
        })
    }
}

/// What presign knows about an org for a short while.
#[derive(Debug)]
struct OrgView {
    integrations: Vec<Integration>,
    /// The org's external IDs (during a rotation, the previous one too).
    external_ids: Option<ExternalIds>,
    loaded_at: std::time::Instant,
}

#[derive(Debug, Clone)]
pub struct State {
    store: SharedStore,
    secrets: SharedSealer,
    /// S3-compatible stores' secret keys, opened: by (org, integration id, version), so a replace
    /// (a new key) is never served the old one.
    store_keys: moka::future::Cache<(OrgId, String, u64), Arc<SecretAccessKey>>,
    claims: ClaimNames,
    credentials: CredentialCache,
    presigner: Presigner,
    orgs: moka::future::Cache<OrgId, Arc<OrgView>>,
    lifetime: UrlLifetime,
    platform: PlatformIdentity,
    /// `None` until [`State::with_keyring`] when the keys live in Secrets Manager.
    keyring: Option<Arc<Keyring>>,
    link_lifetime: UrlLifetime,
    link_url_secs: u32,
    link_base_url: Option<String>,
}

impl State {
    pub fn new(
        store: SharedStore,
        credentials: CredentialCache,
        secrets: SharedSealer,
        config: PresignConfig,
    ) -> Self {
        let orgs = moka::future::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(config.integration_cache_ttl.max(Duration::from_millis(1)))
            .build();
        let store_keys =
            moka::future::Cache::builder().max_capacity(10_000).time_to_live(STORE_KEYS_TTL).build();
        let keyring = match config.links.keys {
            LinkKeySource::Inline(keys) => Some(Arc::new(Keyring::fixed(keys))),
            LinkKeySource::SecretsManager(_) => None,
        };
        Self {
            keyring,
            link_lifetime: config.links.lifetime,
            link_url_secs: config.links.url_secs,
            link_base_url: config.link_base_url,
            store,
            secrets,
            store_keys,
            claims: config.claims,
            credentials,
            presigner: Presigner::new(config.s3_endpoint),
            orgs,
            lifetime: config.lifetime,
            platform: config.platform,
        }
    }

    /// The link keys read from Secrets Manager (`LINK_SIGNING_KEYS_SECRET_ID`), which `new` cannot
    /// read itself.
    pub fn with_keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(Arc::new(keyring));
        self
    }

    pub fn credentials(&self) -> &CredentialCache {
        &self.credentials
    }

    /// Fills the org cache as a DynamoDB read would (benchmarks measure the warm path with it).
    pub async fn prime_org(
        &self,
        org: &OrgId,
        integrations: Vec<Integration>,
        external_id: Option<ExternalId>,
    ) {
        self.orgs
            .insert(
                org.clone(),
                Arc::new(OrgView {
                    integrations,
                    external_ids: external_id.map(ExternalIds::single),
                    loaded_at: std::time::Instant::now(),
                }),
            )
            .await;
    }
}

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(api::respond(dispatch(state, &req, |results| api::serialized_response(200, results), |r| r).await))
}

/// The Lambda entry point: the API Gateway v2 response JSON itself, a 200 written in one pass
/// ([`api::json_envelope`]); what [`handle`] answers, in the envelope `lambda_http` would build.
pub async fn handle_event(state: &State, req: Request) -> api::JsonText {
    match dispatch(state, &req, |results| api::json_envelope(200, results), api::envelope_of).await {
        Ok(envelope) => envelope,
        Err(e) => api::envelope_of(api::error_response(&e)),
    }
}

/// The route's answer: a batch's typed results through `json` (they borrow from the request
/// body), a redirect through `plain`.
async fn dispatch<R>(
    state: &State,
    req: &Request,
    json: impl FnOnce(&Results<'_>) -> R,
    plain: impl FnOnce(Response<Body>) -> R,
) -> Result<R, ApiError> {
    let (route, params) = api::route(req)?;
    let answered = match route {
        // No caller: the token in the path is the capability.
        Route::FollowLink => {
            follow_link(state, params.get("token").map_or("", String::as_str)).await.map(plain)
        }
        Route::Presign => presign_batch(state, req, json).await,
        Route::CreateLinks => create_links(state, req, json).await,
        Route::ExplainLocators => explain(state, req).await.map(plain),
        _ => Err(api::not_found_route(req)),
    };
    if let Err(e) = &answered {
        request_error_metrics(state, route, e);
    }
    answered
}

/// `POST /presign`.
async fn presign_batch<R>(
    state: &State,
    req: &Request,
    answer: impl FnOnce(&Results<'_>) -> R,
) -> Result<R, ApiError> {
    let caller = api::caller(req, &state.claims)?;
    let body = api::json_body(req, MAX_BODY_BYTES)?;
    let PresignAsk { locators, expires_in, method } = parse_request(&body, &state.lifetime)?;
    let now = SystemTime::now();
    let view = org_view(state, &caller.org).await?;
    let fresh = OnceLock::new();
    let (steps, latest) = planned(state, &caller.org, locators, &view, &fresh).await?;
    let results = sign_all(
        state,
        &caller.org,
        latest.external_ids.as_ref(),
        steps,
        locators,
        (expires_in, method),
        now,
    )
    .await;
    let stats = state.credentials.stats();
    tracing::info!(
        org = %caller.org,
        locators = locators.len(),
        errors = results.iter().filter(|r| matches!(r, Outcome::Failed { .. })).count(),
        credential_cache_hits_total = stats.hits.load(Ordering::Relaxed),
        credential_cache_misses_total = stats.misses.load(Ordering::Relaxed),
        credential_cache_refreshes_total = stats.refreshes.load(Ordering::Relaxed),
        external_id_probes_total = stats.probes.load(Ordering::Relaxed),
        external_id_not_enforced_total = stats.not_enforced.load(Ordering::Relaxed),
        "presigned batch"
    );
    batch_metrics(state, Route::Presign, &results);
    let results = Results { results };
    fits_in_a_response(&results)?;
    // Serialized straight from the typed results: no JSON tree for a 1,000-URL answer.
    Ok(answer(&results))
}

/// Whether the answer fits in what Lambda may return. A cheap bound clears every ordinary batch;
/// only past it are the results measured exactly, and an answer that does not fit is a 413 that
/// says how many of these locators would.
fn fits_in_a_response(results: &Results<'_>) -> Result<(), ApiError> {
    let bound =
        api::ENVELOPE_OVERHEAD_BYTES + results.results.iter().map(Outcome::envelope_bound).sum::<usize>();
    if bound <= MAX_RESPONSE_BYTES {
        return Ok(());
    }
    let sizes: Vec<usize> = results.results.iter().map(|r| api::enveloped_len(r) + 1).collect();
    let total = api::ENVELOPE_OVERHEAD_BYTES + api::enveloped_len(results);
    if total <= MAX_RESPONSE_BYTES {
        return Ok(());
    }
    let mut used = api::ENVELOPE_OVERHEAD_BYTES + api::enveloped_len(&Results { results: Vec::new() });
    let fit = sizes.iter().take_while(|size| {
        used += **size;
        used <= MAX_RESPONSE_BYTES
    });
    let fit = fit.count();
    Err(ApiError::TooLarge(format!(
        "The answer to these {} locators would be {total} bytes, more than the {MAX_RESPONSE_BYTES} bytes the \
         service can return at once (long keys make long URLs). The first {fit} fit: send at most {fit} of these \
         locators per request.",
        results.results.len()
    )))
}

impl Outcome<'_> {
    /// At least the bytes this result takes in the envelope: every text escaped at worst twice
    /// (a control character, `\u0001`, becomes `\\u0001`: 7 bytes for one), plus the keys.
    fn envelope_bound(&self) -> usize {
        const WORST: usize = 7;
        match self {
            Outcome::Signed { locator, url, expires_at, integration_id } => {
                url.as_json().len() + WORST * (locator.len() + integration_id.len()) + expires_at.len() + 96
            }
            Outcome::PassThrough { locator, url } | Outcome::LinkedThrough { locator, link: url } => {
                WORST * (locator.len() + url.len()) + 40
            }
            Outcome::Linked { locator, link, expires_at } => {
                WORST * (locator.len() + link.len()) + expires_at.len() + 64
            }
            Outcome::Failed { locator, error } => {
                WORST * (serde_json::to_string(locator).map_or(0, |t| t.len()) + error.message.len()) + 96
            }
        }
    }
}

#[derive(serde::Serialize)]
struct Results<'a> {
    results: Vec<Outcome<'a>>,
}

/// One result, in the shapes the README documents (API reference, Presign).
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
enum Outcome<'a> {
    Signed {
        locator: &'a str,
        url: api::JsonString,
        expires_at: String,
        integration_id: &'a str,
    },
    PassThrough {
        locator: &'a str,
        url: &'a str,
    },
    Failed {
        locator: &'a Value,
        error: ItemError,
    },
    Linked {
        locator: &'a str,
        link: String,
        expires_at: String,
    },
    /// A link to an https:// URL is the URL itself.
    LinkedThrough {
        locator: &'a str,
        link: &'a str,
    },
}

#[derive(Debug, serde::Serialize)]
struct ItemError {
    code: &'static str,
    message: String,
    /// The option of a `{"locator", ...}` element the error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
}

/// A presign request, parsed: the locators as sent (each checked when it is planned), the URLs'
/// lifetime, and the method they are signed for.
#[derive(Debug)]
pub struct PresignAsk<'a> {
    pub locators: &'a [Value],
    pub expires_in: u32,
    pub method: Method,
}

/// `{"locators": [...], "expires_in"?: seconds, "method"?: "GET" | "HEAD"}`. A locator that is
/// neither a string nor a `{"locator", ...}` object becomes a per-item error.
pub fn parse_request<'a>(body: &'a Value, lifetime: &UrlLifetime) -> Result<PresignAsk<'a>, ApiError> {
    parse_batch(body, lifetime, Route::Presign)
}

/// A presign batch, a links batch (`Route::CreateLinks`: no `method`, links are followed with GET)
/// or an explain batch (`Route::ExplainLocators`: locators only).
fn parse_batch<'a>(
    body: &'a Value,
    lifetime: &UrlLifetime,
    route: Route,
) -> Result<PresignAsk<'a>, ApiError> {
    let allowed: &[&str] = match route {
        Route::CreateLinks => &["locators", "expires_in"],
        Route::ExplainLocators => &["locators"],
        _ => &["locators", "expires_in", "method"],
    };
    let Value::Object(fields) = body else {
        return Err(ApiError::bad_request(
            "INVALID_BODY",
            None,
            "The body must be a JSON object: {\"locators\": [\"s3://bucket/key\", ...], \"expires_in\": 900}.",
        ));
    };
    if let Some(unknown) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        let optional = match route {
            Route::CreateLinks => "\"expires_in\" (a link's life in seconds)",
            Route::ExplainLocators => "nothing else",
            _ => "\"expires_in\" and \"method\"",
        };
        return Err(ApiError::bad_request(
            "UNKNOWN_FIELD",
            Some(unknown),
            format!(
                "The field {:?} is not recognised; send \"locators\" and optionally {optional}.",
                unknown.chars().take(64).collect::<String>()
            ),
        ));
    }
    let locators = match fields.get("locators") {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request(
                "MISSING_FIELD",
                Some("locators"),
                "The field \"locators\" is required: a list of s3:// locators or https:// URLs.",
            ))
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "INVALID_TYPE",
                Some("locators"),
                "\"locators\" must be a list of strings.",
            ))
        }
    };
    if locators.len() > MAX_LOCATORS {
        return Err(ApiError::TooLarge(format!(
            "The batch has {} locators; the limit is {MAX_LOCATORS} per request. Split it into smaller batches.",
            locators.len()
        )));
    }
    let expires_in = lifetime.requested(fields.get("expires_in"))?;
    let method = match fields.get("method") {
        None | Some(Value::Null) => Method::Get,
        Some(Value::String(m)) if m == "GET" => Method::Get,
        Some(Value::String(m)) if m == "HEAD" => Method::Head,
        Some(_) => {
            return Err(ApiError::bad_request(
                "INVALID_METHOD",
                Some("method"),
                "\"method\" must be \"GET\" (the default) or \"HEAD\": the method the URLs are signed for; a URL \
                 signed for one is refused for the other.",
            ))
        }
    };
    Ok(PresignAsk { locators: locators.as_slice(), expires_in, method })
}

/// The fields of a `{"locator", ...}` element.
const ELEMENT_FIELDS: [&str; 3] = ["locator", "download_as", "content_type"];

/// What one element of `locators` asks for: the locator's text, and how its object is delivered.
struct Element<'a> {
    text: &'a str,
    download_as: Option<DownloadName>,
    content_type: Option<MediaType>,
}

/// Reads one element: `"s3://..."` or `{"locator": "s3://...", "download_as"?, "content_type"?}`.
/// Every problem is this element's error, naming the field.
fn element(raw: &Value) -> Result<Element<'_>, ItemError> {
    let error = |code, field, message: String| ItemError { code, message, field };
    let fields = match raw {
        Value::String(text) => return Ok(Element { text, download_as: None, content_type: None }),
        Value::Object(fields) => fields,
        _ => {
            return Err(error(
                "INVALID_LOCATOR",
                None,
                "A locator must be a string such as \"s3://bucket/key\", or an object such as \
                 {\"locator\": \"s3://bucket/key\", \"download_as\": \"name.ext\"}."
                    .into(),
            ))
        }
    };
    if let Some(unknown) = fields.keys().find(|k| !ELEMENT_FIELDS.contains(&k.as_str())) {
        return Err(error(
            "UNKNOWN_FIELD",
            None,
            format!(
                "The field {:?} of this locator is not recognised; the allowed fields are {ELEMENT_FIELDS:?}.",
                unknown.chars().take(64).collect::<String>()
            ),
        ));
    }
    let text = match fields.get("locator") {
        Some(Value::String(text)) => text,
        _ => {
            return Err(error(
                "INVALID_LOCATOR",
                Some("locator"),
                "\"locator\" is required in a locator object: a string such as \"s3://bucket/key\".".into(),
            ))
        }
    };
    let string = |field: &'static str| match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.as_str())),
        Some(_) => Err(error("INVALID_TYPE", Some(field), format!("\"{field}\" must be a string."))),
    };
    let download_as = string("download_as")?
        .map(DownloadName::parse)
        .transpose()
        .map_err(|message| error("INVALID_DOWNLOAD_AS", Some("download_as"), message))?;
    let content_type = string("content_type")?
        .map(MediaType::parse)
        .transpose()
        .map_err(|message| error("INVALID_CONTENT_TYPE", Some("content_type"), message))?;
    Ok(Element { text, download_as, content_type })
}

async fn org_view(state: &State, org: &OrgId) -> Result<Arc<OrgView>, ApiError> {
    let store = state.store.clone();
    let org_id = org.clone();
    state
        .orgs
        .try_get_with(org.clone(), async move {
            let integrations = store.list_all(&org_id).await?;
            let external_ids =
                if integrations.is_empty() { None } else { store.read_external_ids(&org_id).await? };
            Ok::<_, ApiError>(Arc::new(OrgView {
                integrations,
                external_ids,
                loaded_at: std::time::Instant::now(),
            }))
        })
        .await
        // The cache shares one load's error among its waiters; the shared error stays the cause,
        // so the log keeps its whole chain.
        .map_err(|e: Arc<ApiError>| match &*e {
            ApiError::Unavailable { message, .. } => ApiError::unavailable(message.clone(), e.clone()),
            _ => ApiError::internal(e),
        })
}

fn failed<'a>(locator: &'a Value, code: &'static str, message: impl Into<String>) -> Outcome<'a> {
    Outcome::Failed { locator, error: ItemError { code, message: message.into(), field: None } }
}

/// An s3:// locator to sign, parsed, with how its object is delivered.
struct Target<'a> {
    text: &'a str,
    locator: S3Locator,
    download_as: Option<DownloadName>,
    content_type: Option<MediaType>,
}

/// What the batch does with one locator, decided once: parsed and resolved against an org view.
enum Step<'a> {
    /// Answered without signing: a pass-through URL or a per-locator error.
    Done(Outcome<'a>),
    /// No integration of the view serves it (yet); kept parsed for a reload.
    Unserved { target: Target<'a>, miss: NoMatch },
    /// Signed through this integration's role or keys.
    Sign { integration: &'a Integration, target: Target<'a> },
}

impl Step<'_> {
    fn is_unserved(&self) -> bool {
        matches!(self, Step::Unserved { .. })
    }
}

/// The plan: each locator parsed once and resolved against `integrations`.
fn plan<'a>(integrations: &'a [Integration], locators: &'a [Value]) -> Vec<Step<'a>> {
    locators
        .iter()
        .map(|raw| {
            let Element { text, download_as, content_type } = match element(raw) {
                Ok(element) => element,
                Err(error) => return Step::Done(Outcome::Failed { locator: raw, error }),
            };
            match Locator::parse(text) {
                Err(e) => Step::Done(failed(raw, e.kind.code(), e.message)),
                // An https:// URL comes back exactly as sent: nothing of it is ours to sign.
                Ok(Locator::Https(_)) if download_as.is_some() || content_type.is_some() => Step::Done(failed(
                    raw,
                    "OPTIONS_NOT_APPLICABLE",
                    "\"download_as\" and \"content_type\" apply to s3:// locators; an https:// URL is returned as \
                     it is. Drop them for this locator.",
                )),
                Ok(Locator::Https(_)) => Step::Done(Outcome::PassThrough { locator: text, url: text }),
                Ok(Locator::S3(locator)) => {
                    serve(integrations, raw, Target { text, locator, download_as, content_type })
                }
            }
        })
        .collect()
}

/// After a reload: the unserved locators, resolved against the fresh `integrations`.
fn replan_unserved<'a>(
    steps: Vec<Step<'a>>,
    integrations: &'a [Integration],
    locators: &'a [Value],
) -> Vec<Step<'a>> {
    steps
        .into_iter()
        .zip(locators)
        .map(|(step, raw)| match step {
            Step::Unserved { target, .. } => serve(integrations, raw, target),
            planned => planned,
        })
        .collect()
}

/// Which integration signs an s3:// locator, or why none may.
fn serve<'a>(integrations: &'a [Integration], raw: &'a Value, target: Target<'a>) -> Step<'a> {
    match serving(integrations, &target.locator) {
        Err(Unserved::Miss(miss)) => Step::Unserved { target, miss },
        Err(Unserved::Refused(code, message)) => Step::Done(failed(raw, code, message)),
        Ok(integration) => Step::Sign { integration, target },
    }
}

/// Why no integration signs a locator.
enum Unserved {
    /// No integration's scope covers it.
    Miss(NoMatch),
    /// One does, and refuses it.
    Refused(&'static str, String),
}

/// The one rule for presign, links and their redirects: the most specific scope serves, and a
/// version is served only where file versioning is on.
fn serving<'i>(integrations: &'i [Integration], locator: &S3Locator) -> Result<&'i Integration, Unserved> {
    let integration = resolve(integrations, locator).map_err(Unserved::Miss)?;
    if locator.version_id.is_some() && !integration.versioning {
        return Err(Unserved::Refused(
            "VERSIONING_DISABLED",
            format!(
                "This locator names a file version, but the integration {:?} has file versioning off, so its role \
                 may not read versions. Ask an org admin to turn versioning on (and update the access policy), or \
                 drop ?versionId= to get the latest version.",
                integration.name
            ),
        ));
    }
    Ok(integration)
}

/// Each locator planned against the org's integrations. An integration saved moments ago should
/// serve at once: a miss against a view older than a second reloads it once into `fresh` (one more
/// query, only on misses), and only the misses are resolved again. Returns the view planned against last.
async fn planned<'v>(
    state: &State,
    org: &OrgId,
    locators: &'v [Value],
    view: &'v Arc<OrgView>,
    fresh: &'v OnceLock<Arc<OrgView>>,
) -> Result<(Vec<Step<'v>>, &'v OrgView), ApiError> {
    let steps = plan(&view.integrations, locators);
    if view.loaded_at.elapsed() <= Duration::from_secs(1) || !steps.iter().any(Step::is_unserved) {
        return Ok((steps, view));
    }
    state.orgs.invalidate(org).await;
    let loaded = org_view(state, org).await?;
    // The cell is the caller's and empty: it keeps the reloaded view as long as the steps borrow it.
    let reloaded = fresh.get_or_init(|| loaded);
    Ok((replan_unserved(steps, &reloaded.integrations, locators), reloaded))
}

/// The locators of one integration: their places in the batch, parsed.
type Group<'a> = (&'a Integration, Vec<(usize, Target<'a>)>);

/// A group with what its lease came to: the credentials, or the code and words that refuse it.
type LeasedGroup<'a> = (Group<'a>, Result<Lease, (&'static str, String)>);

/// The decision, without signing: each locator answered now (a pass-through or an error) or put
/// in its integration's group, and each group's credentials leased (concurrently, one lease per
/// integration: the trust gate, then the warm cache or STS). Presign signs from here; explain
/// reports from here, so the two cannot disagree.
async fn decide<'a>(
    state: &State,
    org: &OrgId,
    external_ids: Option<&ExternalIds>,
    steps: Vec<Step<'a>>,
    locators: &'a [Value],
    expires_in: u32,
    now: SystemTime,
) -> (Vec<Option<Outcome<'a>>>, Vec<LeasedGroup<'a>>) {
    let mut results: Vec<Option<Outcome<'a>>> = Vec::with_capacity(steps.len());
    let mut groups: Vec<Group<'a>> = Vec::new();
    for (i, step) in steps.into_iter().enumerate() {
        results.push(match step {
            Step::Done(outcome) => Some(outcome),
            Step::Unserved { miss, .. } => Some(failed(&locators[i], miss.code(), miss.message())),
            Step::Sign { integration, target } => {
                match groups.iter_mut().find(|(g, _)| std::ptr::eq(*g, integration)) {
                    Some((_, members)) => members.push((i, target)),
                    None => groups.push((integration, vec![(i, target)])),
                }
                None
            }
        });
    }
    let leases = futures::future::join_all(
        groups
            .iter()
            .map(|(integration, _)| lease_for(state, org, integration, external_ids, expires_in, now)),
    )
    .await;
    (results, groups.into_iter().zip(leases).collect())
}

/// Leases each integration's credentials ([`decide`]) and signs its locators; the results keep
/// the input order.
async fn sign_all<'a>(
    state: &State,
    org: &OrgId,
    external_ids: Option<&ExternalIds>,
    steps: Vec<Step<'a>>,
    locators: &'a [Value],
    (expires_in, method): (u32, Method),
    now: SystemTime,
) -> Vec<Outcome<'a>> {
    let (mut results, groups) = decide(state, org, external_ids, steps, locators, expires_in, now).await;
    for ((integration, members), lease) in groups {
        match lease {
            Err((code, message)) => {
                for (i, _) in members {
                    results[i] = Some(failed(&locators[i], code, message.clone()));
                }
            }
            Ok(lease) => {
                sign_group(state, integration, &lease, members, (expires_in, method), now, &mut results)
            }
        }
    }
    // Every place was filled: each locator was answered early or signed or failed with its group.
    results.into_iter().flatten().collect()
}

/// The credentials one integration signs with: a role's, after the trust gate
/// ([`shared::aws::trust::gate`]), or a store's own keys, its secret opened once per integration
/// version and warm instance.
async fn lease_for(
    state: &State,
    org: &OrgId,
    integration: &Integration,
    external_ids: Option<&ExternalIds>,
    expires_in: u32,
    now: SystemTime,
) -> Result<Lease, (&'static str, String)> {
    let role_arn = match &integration.access {
        Access::AwsRole(role) => &role.role_arn,
        Access::S3Compatible(store) => return store_lease(state, org, integration, store, now).await,
    };
    let role = role_arn.as_str();
    let current = external_ids.map(|ids| &ids.current);
    let (external_id, probe) =
        match shared::aws::trust::gate(integration, role_arn, &state.platform, current, now) {
            Gate::Refuse { code, message } => return Err((code, message)),
            Gate::Lease { external_id, probe } => (external_id, probe),
        };
    let lease = |id| {
        let lifetime = Duration::from_secs(u64::from(expires_in));
        state.credentials.lease_for_integration(org, &integration.id, role, id, lifetime, probe)
    };
    let first = lease(external_id).await;
    // During a rotation's overlap a role not yet updated still accepts the previous ID; if it
    // refuses that too, the refusal of the current ID is the one to explain.
    let leased = match (&first, external_ids.and_then(|ids| ids.previous_at(now))) {
        (Err(AssumeFailure::Denied(_)), Some(previous)) => lease(previous).await.or(first),
        _ => first,
    };
    leased.map_err(|failure| (failure.code(), failure.message(role, Some(external_id))))
}

/// A store's keys as a lease: they do not expire, so a URL lives as long as was asked.
async fn store_lease(
    state: &State,
    org: &OrgId,
    integration: &Integration,
    store: &S3Compatible,
    now: SystemTime,
) -> Result<Lease, (&'static str, String)> {
    let key = (org.clone(), integration.id.clone(), integration.version);
    let secrets = state.secrets.clone();
    let sealed = store.secret.clone();
    let org_id = org.clone();
    let secret = state
        .store_keys
        .try_get_with(key, async move { secrets.open(&org_id, &sealed).await.map(Arc::new) })
        .await
        .map_err(|e: Arc<SecretError>| {
            tracing::warn!(org = %org, integration = %integration.id, error = %e, "could not open a store's secret key");
            (
                "STORE_KEYS_UNAVAILABLE",
                format!(
                    "The platform could not open the stored secret access key of integration {:?} just now. This is on \
                     the platform's side; try again shortly.",
                    integration.name
                ),
            )
        })?;
    let forever = now + Duration::from_secs(u64::from(shared::domain::lifetime::SIGV4_MAX_SECS));
    Ok(Lease {
        credentials: TempCredentials {
            signing: SigningCredentials {
                access_key_id: store.access_key_id.as_str().to_owned(),
                secret_access_key: secret.expose().to_owned(),
                session_token: None,
            },
            expires_at: forever,
        },
        sign_until: forever,
    })
}

/// Signs one integration's locators with one signer (the signing key derived once).
#[allow(clippy::too_many_arguments)] // the batch's parts, borrowed: a struct would only rename them
fn sign_group<'a>(
    state: &State,
    integration: &'a Integration,
    lease: &Lease,
    members: Vec<(usize, Target<'a>)>,
    (expires_in, method): (u32, Method),
    now: SystemTime,
    results: &mut [Option<Outcome<'a>>],
) {
    let effective = UrlLifetime::effective(expires_in, now, lease.sign_until);
    let expires_at = shared::domain::clock::rfc3339(now + Duration::from_secs(u64::from(effective)));
    let signer = signer_for(state, integration, &lease.credentials.signing, now);
    for (i, target) in members {
        let (request, delivery) =
            asked(&target.locator, &target.download_as, &target.content_type, method, effective);
        let capacity = signer.url_capacity(&request) + delivery.url_bytes();
        let url = api::JsonString::build(capacity, |out| signer.presign_into_with(&request, &delivery, out));
        results[i] = Some(Outcome::Signed {
            locator: target.text,
            url,
            expires_at: expires_at.clone(),
            integration_id: &integration.id,
        });
    }
}

/// The signer of one integration's URLs: its region at the platform's S3 endpoint, or its store's
/// endpoint, addressing style and region.
fn signer_for<'s>(
    state: &'s State,
    integration: &'s Integration,
    signing: &SigningCredentials,
    now: SystemTime,
) -> shared::domain::presign::BatchSigner<'s> {
    match &integration.access {
        Access::AwsRole(role) => state.presigner.batch(signing, role.region, now),
        Access::S3Compatible(store) => shared::domain::presign::store_batch(
            store.endpoint.for_presign(store.addressing_style),
            signing,
            store.region.as_str(),
            now,
        ),
    }
}

/// What one URL asks S3 for: the object (or version), for how long, and how it is delivered.
fn asked<'t>(
    locator: &'t S3Locator,
    download_as: &'t Option<DownloadName>,
    content_type: &'t Option<MediaType>,
    method: Method,
    expires_in_secs: u32,
) -> (PresignRequest<'t>, Delivery<'t>) {
    (
        PresignRequest {
            bucket: &locator.bucket,
            key: &locator.key,
            version_id: locator.version_id.as_ref(),
            expires_in_secs,
        },
        Delivery {
            method,
            content_disposition: download_as.as_ref().map(DownloadName::header),
            content_type: content_type.as_ref().map(MediaType::as_str),
        },
    )
}

// ---- stable links --------------------------------------------------------------------------------

fn unix(at: SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn keyring(state: &State) -> Result<&Keyring, ApiError> {
    state.keyring.as_deref().ok_or_else(|| {
        ApiError::unavailable(
            "Stable links are not available just now; try again shortly.",
            std::io::Error::other("the link signing keys were never loaded (State::with_keyring)"),
        )
    })
}

/// `POST /links`: a link per locator the org's integrations serve now, in input order. Nothing is
/// stored: the link carries its locator, and each use is checked again ([`follow_link`]).
async fn create_links<R>(
    state: &State,
    req: &Request,
    answer: impl FnOnce(&Results<'_>) -> R,
) -> Result<R, ApiError> {
    let caller = api::caller(req, &state.claims)?;
    let body = api::json_body(req, MAX_BODY_BYTES)?;
    let PresignAsk { locators, expires_in, .. } =
        parse_batch(&body, &state.link_lifetime, Route::CreateLinks)?;
    let base = link_base(state, req)?;
    let keys = keyring(state)?.current().await;
    let now = SystemTime::now();
    let expires_at = unix(now) + u64::from(expires_in);
    let expires_text = shared::domain::clock::rfc3339(now + Duration::from_secs(u64::from(expires_in)));
    let view = org_view(state, &caller.org).await?;
    let fresh = OnceLock::new();
    let (steps, _) = planned(state, &caller.org, locators, &view, &fresh).await?;
    let results: Vec<Outcome<'_>> = steps
        .into_iter()
        .zip(locators)
        .map(|(step, raw)| match step {
            Step::Done(Outcome::PassThrough { locator, url }) => {
                Outcome::LinkedThrough { locator, link: url }
            }
            Step::Done(outcome) => outcome,
            Step::Unserved { miss, .. } => failed(raw, miss.code(), miss.message()),
            Step::Sign { target, .. } => {
                let Target { text, locator, download_as, content_type } = target;
                let link = Link { org: caller.org.clone(), locator, download_as, content_type, expires_at };
                let token = keys.issue(&link);
                let mut url = String::with_capacity(base.len() + 3 + token.len());
                url.push_str(&base);
                url.push_str("/l/");
                url.push_str(&token);
                Outcome::Linked { locator: text, link: url, expires_at: expires_text.clone() }
            }
        })
        .collect();
    tracing::info!(
        org = %caller.org,
        locators = locators.len(),
        errors = results.iter().filter(|r| matches!(r, Outcome::Failed { .. })).count(),
        key_id = keys.current_id(),
        "issued links"
    );
    batch_metrics(state, Route::CreateLinks, &results);
    let results = Results { results };
    fits_in_a_response(&results)?;
    Ok(answer(&results))
}

/// Where links point: `LINK_BASE_URL`, else the scheme and host the request came to (API
/// Gateway's `X-Forwarded-Proto` and `Host`).
fn link_base(state: &State, req: &Request) -> Result<String, ApiError> {
    if let Some(base) = &state.link_base_url {
        return Ok(base.clone());
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let host = header("host").filter(|h| {
        !h.is_empty()
            && h.len() <= 255
            && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
    });
    let Some(host) = host else {
        return Err(ApiError::bad_request(
            "INVALID_HOST",
            None,
            "The request's Host header is missing or not a host name, so no link can be made to point at this API.",
        ));
    };
    let scheme = if header("x-forwarded-proto") == Some("http") { "http" } else { "https" };
    Ok(format!("{scheme}://{host}"))
}

/// `GET /l/{token}`: the token's link, checked as a presign is (same integration rules, same trust
/// gate, same credentials), redirected to a URL presigned now. The browser may reuse the redirect
/// for three quarters of that URL's life, and never past the link's own expiry.
async fn follow_link(state: &State, token: &str) -> Result<Response<Body>, ApiError> {
    let now = SystemTime::now();
    let link = keyring(state)?.open(token, unix(now)).await.map_err(|e| match e {
        LinkError::Invalid | LinkError::UnknownKey => ApiError::Link {
            refusal: LinkRefusal::Invalid,
            message:
                "This link is not valid: it was not issued by this service, or it was changed or cut short. \
                      Ask for a new link (POST /links)."
                    .to_owned(),
        },
        LinkError::Expired { expired_at } => ApiError::Link {
            refusal: LinkRefusal::Expired,
            message: format!(
                "This link expired at {}. Ask for a new link (POST /links).",
                shared::domain::clock::rfc3339(std::time::UNIX_EPOCH + Duration::from_secs(expired_at))
            ),
        },
    })?;
    let mut view = org_view(state, &link.org).await?;
    // An integration saved moments ago serves at once: a miss against a view older than a second
    // reloads it once, as a batch does (`planned`).
    let missed = || matches!(serving(&view.integrations, &link.locator), Err(Unserved::Miss(_)));
    if view.loaded_at.elapsed() > Duration::from_secs(1) && missed() {
        state.orgs.invalidate(&link.org).await;
        view = org_view(state, &link.org).await?;
    }
    let integration = match serving(&view.integrations, &link.locator) {
        Ok(integration) => integration,
        Err(Unserved::Miss(miss)) => {
            return Err(ApiError::Link {
                refusal: LinkRefusal::NotServed,
                message: format!(
                    "This link's file is no longer served: {} Ask an org admin, then ask for a new link.",
                    miss.message()
                ),
            })
        }
        Err(Unserved::Refused(code, message)) => {
            return Err(ApiError::Link { refusal: LinkRefusal::Refused(code), message })
        }
    };
    let lease =
        lease_for(state, &link.org, integration, view.external_ids.as_ref(), state.link_url_secs, now)
            .await
            .map_err(|(code, message)| match code {
                "ASSUME_ROLE_FAILED" | "STORE_KEYS_UNAVAILABLE" => {
                    ApiError::unavailable(message, std::io::Error::other(code))
                }
                code => ApiError::Link { refusal: LinkRefusal::Refused(code), message },
            })?;
    let effective = UrlLifetime::effective(state.link_url_secs, now, lease.sign_until);
    let signer = signer_for(state, integration, &lease.credentials.signing, now);
    let (request, delivery) =
        asked(&link.locator, &link.download_as, &link.content_type, Method::Get, effective);
    let url = signer.presign_with(&request, &delivery);
    let link_left = link.expires_at.saturating_sub(unix(now));
    let max_age = u64::from(effective * 3 / 4).min(link_left);
    tracing::info!(org = %link.org, integration = %integration.id, max_age, "followed a link");
    Emf::new(METRICS_FUNCTION)
        .metrics(&cache_metrics(state))
        .dimension("Route", Route::FollowLink.key())
        .metrics(&[("Redirects", Unit::Count, 1.0)])
        .emit();
    api::redirect(&url, u32::try_from(max_age).unwrap_or(0))
}

// ---- metrics (CloudWatch EMF, README "Metrics and alarms") ---------------------------------------

/// The `Function` dimension of this function's metrics.
const METRICS_FUNCTION: &str = "presign";

/// The credential cache's counters as last emitted: each document carries the increase since.
static CACHE_EMITTED: Deltas<6> = Deltas::new();

/// What the credential cache did since the last document (hits, misses, refreshes, failed
/// `AssumeRole`s, external-ID probes and the probes a role failed by admitting a random ID).
fn cache_metrics(state: &State) -> [Metric; 6] {
    let stats = state.credentials.stats();
    let totals =
        [&stats.hits, &stats.misses, &stats.refreshes, &stats.failures, &stats.probes, &stats.not_enforced]
            .map(|counter| counter.load(Ordering::Relaxed));
    let [hits, misses, refreshes, failures, probes, not_enforced] = CACHE_EMITTED.since_last(totals);
    [
        ("CredentialCacheHits", Unit::Count, hits as f64),
        ("CredentialCacheMisses", Unit::Count, misses as f64),
        ("CredentialCacheRefreshes", Unit::Count, refreshes as f64),
        ("AssumeRoleFailures", Unit::Count, failures as f64),
        ("ExternalIdProbes", Unit::Count, probes as f64),
        ("ExternalIdNotEnforced", Unit::Count, not_enforced as f64),
    ]
}

/// One batch's documents: its counts under `[Function, Route]`, the cache's under `[Function]`,
/// and one per error code present under `[Function, Route, Code]`.
fn batch_metrics(state: &State, route: Route, results: &[Outcome<'_>]) {
    let mut by_code: Vec<(&'static str, usize)> = Vec::new();
    let (mut signed, mut passed, mut linked) = (0usize, 0usize, 0usize);
    for outcome in results {
        match outcome {
            Outcome::Signed { .. } => signed += 1,
            Outcome::PassThrough { .. } => passed += 1,
            Outcome::Linked { .. } | Outcome::LinkedThrough { .. } => linked += 1,
            Outcome::Failed { error, .. } => match by_code.iter_mut().find(|(code, _)| *code == error.code) {
                Some((_, n)) => *n += 1,
                None => by_code.push((error.code, 1)),
            },
        }
    }
    let errors: usize = by_code.iter().map(|(_, n)| n).sum();
    let name = route.key();
    let counts: &[Metric] = if route == Route::CreateLinks {
        &[
            ("Locators", Unit::Count, results.len() as f64),
            ("Links", Unit::Count, linked as f64),
            ("LocatorErrors", Unit::Count, errors as f64),
        ]
    } else {
        &[
            ("Locators", Unit::Count, results.len() as f64),
            ("Urls", Unit::Count, signed as f64),
            ("PassedThrough", Unit::Count, passed as f64),
            ("LocatorErrors", Unit::Count, errors as f64),
        ]
    };
    Emf::new(METRICS_FUNCTION).metrics(&cache_metrics(state)).dimension("Route", name).metrics(counts).emit();
    for (code, n) in by_code {
        Emf::new(METRICS_FUNCTION)
            .dimension("Route", name)
            .dimension("Code", code)
            .metrics(&[("LocatorErrors", Unit::Count, n as f64)])
            .emit();
    }
}

/// A request answered with an error (a link refused, a bad request, an outage): by route and code.
fn request_error_metrics(state: &State, route: Route, error: &ApiError) {
    Emf::new(METRICS_FUNCTION)
        .metrics(&cache_metrics(state))
        .dimension("Route", route.key())
        .dimension("Code", error.code())
        .metrics(&[("RequestErrors", Unit::Count, 1.0)])
        .emit();
}

// ---- explain -------------------------------------------------------------------------------------

/// The most locators one explain request may ask about.
pub const MAX_EXPLAIN_LOCATORS: usize = 100;

/// `POST /locators/explain`: for each locator, which integration serves it and why, every
/// integration whose scope names its bucket, and what presign would do with it now. The decision
/// is presign's own ([`planned`] and [`decide`]: the scope rules, the trust gate, the credentials,
/// leased as presign leases them); only the signing is left out.
async fn explain(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = api::caller(req, &state.claims)?;
    let body = api::json_body(req, MAX_BODY_BYTES)?;
    let PresignAsk { locators, .. } = parse_batch(&body, &state.lifetime, Route::ExplainLocators)?;
    if locators.len() > MAX_EXPLAIN_LOCATORS {
        return Err(ApiError::TooLarge(format!(
            "The request asks about {} locators; explain takes at most {MAX_EXPLAIN_LOCATORS} at a time.",
            locators.len()
        )));
    }
    let now = SystemTime::now();
    let view = org_view(state, &caller.org).await?;
    let fresh = OnceLock::new();
    let (steps, latest) = planned(state, &caller.org, locators, &view, &fresh).await?;
    let expires_in = state.lifetime.default_secs();
    let (answered, groups) =
        decide(state, &caller.org, latest.external_ids.as_ref(), steps, locators, expires_in, now).await;
    // What presign would answer for each place: signed, passed through, or refused (code, words).
    let mut verdicts: Vec<Verdict> = answered
        .into_iter()
        .map(|outcome| match outcome {
            Some(Outcome::Failed { error, .. }) => Verdict::Refused(error.code, error.message),
            Some(_) => Verdict::PassedThrough,
            None => Verdict::Signed,
        })
        .collect();
    for ((_, members), lease) in &groups {
        if let Err((code, message)) = lease {
            for (i, _) in members {
                verdicts[*i] = Verdict::Refused(code, message.clone());
            }
        }
    }
    let results: Vec<Value> = locators
        .iter()
        .zip(verdicts)
        .map(|(raw, verdict)| explained(&latest.integrations, raw, verdict))
        .collect();
    tracing::info!(org = %caller.org, locators = locators.len(), "explained locators");
    Ok(api::json_response(200, &serde_json::json!({ "results": results })))
}

enum Verdict {
    Signed,
    PassedThrough,
    Refused(&'static str, String),
}

/// One locator's explanation.
fn explained(integrations: &[Integration], raw: &Value, verdict: Verdict) -> Value {
    let text = element(raw).map(|e| e.text.to_owned()).ok();
    let parsed = text.as_deref().and_then(|t| Locator::parse(t).ok());
    let summary = |i: &Integration| {
        serde_json::json!({
            "id": i.id, "name": i.name, "kind": i.access.kind(),
            "scope": shared::domain::integration::scope_to_json(&i.scope),
        })
    };
    let (integration, matched_by, candidates) = match &parsed {
        Some(Locator::S3(locator)) => {
            let listed = shared::domain::scope::candidates(integrations, locator);
            let winner = resolve(integrations, locator).ok();
            let runner_up = winner.and_then(|w| {
                listed
                    .iter()
                    .copied()
                    .find(|c| !std::ptr::eq(*c, w) && c.scope.specificity(locator).is_some())
            });
            (
                winner.map(summary),
                winner.map(|w| shared::domain::scope::matched_by(w, runner_up)),
                listed.into_iter().map(summary).collect::<Vec<_>>(),
            )
        }
        Some(Locator::Https(_)) => (
            None,
            Some("an https:// URL is returned as it is; no integration is involved".to_owned()),
            Vec::new(),
        ),
        None => (None, None, Vec::new()),
    };
    let (would_sign, blocked_by, fix) = match verdict {
        Verdict::Signed => (true, None, None),
        Verdict::PassedThrough => (false, None, None),
        Verdict::Refused(code, message) => (false, Some(code), Some(message)),
    };
    serde_json::json!({
        "locator": text.map_or_else(|| raw.clone(), Value::String),
        "integration": integration,
        "matched_by": matched_by,
        "candidates": candidates,
        "would_sign": would_sign,
        "blocked_by": blocked_by,
        "fix": fix,
    })
}
