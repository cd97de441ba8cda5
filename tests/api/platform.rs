//! The platform in front of an IAM-enforcing moto of the test's own, and the customer's side of AWS
//! in both emulators: what the presign and validation suites share (their module docs say why
//! there are two emulators).

use crate::helpers::*;
use crate::moto::{IamUser, MotoProcess};
use devserver::DevServer;
use serde_json::{json, Value};
use shared::aws::credentials::TempCredentials;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const ORG: &str = "acme";
/// Bounds every wait on the network, so a hung emulator fails the test instead of stalling it.
const WAIT: Duration = Duration::from_secs(30);

pub async fn bounded<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(WAIT, future).await.unwrap_or_else(|_| panic!("{what} took longer than {WAIT:?}"))
}

pub fn default_scope(buckets: &[&str]) -> Value {
    json!({"type": "default", "buckets": buckets})
}

pub fn bucket_scope(bucket: &str) -> Value {
    json!({"type": "bucket", "bucket": bucket})
}

/// A dev server whose platform principal is an IAM user of an IAM-enforcing moto, for the org
/// [`ORG`].
#[derive(Debug)]
pub struct Platform {
    pub moto: MotoProcess,
    pub user: IamUser,
    pub app: TestApp,
    pub server: Arc<DevServer>,
    /// The org's external ID and trust policy text, as `GET /policies/trust` renders them.
    pub external_id: String,
    pub trust: String,
    /// The plain moto (`AWS_ENDPOINT_URL`), where presigned URLs and preflights go.
    pub plain: aws_sdk_s3::Client,
    /// The enforcing moto as the customer's administrator (buckets there are in the customer's
    /// account): only before [`Platform::enforce`].
    pub strict: aws_sdk_s3::Client,
    /// Makes bucket names unique in the plain moto that every test shares.
    pub tag: String,
}

impl Platform {
    /// `configure` may change the dev server's options (presign settings, a credential cache over
    /// `options.sts` with a test clock) before it starts.
    pub async fn start_with(configure: impl FnOnce(&mut AppWith)) -> Self {
        Self::start_on(MotoProcess::start().await, configure).await
    }

    /// [`Platform::start_with`] on a moto the caller started (to build options from its URL).
    pub async fn start_on(moto: MotoProcess, configure: impl FnOnce(&mut AppWith)) -> Self {
        let user = moto.create_user_allowed_to_assume_roles("platform").await;
        let sts = platform_sts_client(&moto.url, &user.access_key_id, &user.secret_access_key).await;
        let mut options = AppWith::new(sts, &user.arn, &emulator_endpoint());
        configure(&mut options);
        let (app, server) = spawn_app_with(options).await;
        let trust = app.get("/policies/trust", &admin(ORG)).await;
        assert_eq!(trust.status, 200, "{}", trust.body);
        assert_eq!(trust.body["principal"], user.arn.as_str());
        let plain = s3_client_with(&emulator_endpoint(), "testing", "testing", None).await;
        let customer = moto.create_customer_admin().await;
        let strict =
            s3_client_with(&moto.url, &customer.access_key_id, &customer.secret_access_key, None).await;
        Self {
            external_id: trust.body["external_id"].as_str().expect("external_id").to_owned(),
            trust: trust.body["text"].as_str().expect("trust text").to_owned(),
            tag: ulid::Ulid::new().to_string().to_lowercase(),
            moto,
            user,
            app,
            server,
            plain,
            strict,
        }
    }

    /// A bucket (unique name) in both emulators, in us-east-1.
    pub async fn bucket(&self, hint: &str) -> String {
        self.bucket_in(hint, None).await
    }

    /// A bucket (unique name) in both emulators, in `region` (us-east-1 when `None`).
    pub async fn bucket_in(&self, hint: &str, region: Option<&str>) -> String {
        let name = format!("{hint}-{}", self.tag);
        for s3 in [&self.plain, &self.strict] {
            let mut create = s3.create_bucket().bucket(&name);
            if let Some(region) = region {
                create = create.create_bucket_configuration(
                    aws_sdk_s3::types::CreateBucketConfiguration::builder()
                        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                        .build(),
                );
            }
            bounded("CreateBucket", create.send()).await.unwrap_or_else(|e| panic!("create {name}: {e:?}"));
        }
        name
    }

    pub async fn enable_versioning(&self, bucket: &str) {
        for s3 in [&self.plain, &self.strict] {
            let enabled = aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build();
            bounded(
                "PutBucketVersioning",
                s3.put_bucket_versioning().bucket(bucket).versioning_configuration(enabled).send(),
            )
            .await
            .expect("enable versioning");
        }
    }

    /// The object in both emulators.
    pub async fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        for s3 in [&self.plain, &self.strict] {
            bounded("PutObject", s3.put_object().bucket(bucket).key(key).body(body.to_vec().into()).send())
                .await
                .unwrap_or_else(|e| panic!("put s3://{bucket}/{key}: {e:?}"));
        }
    }

    /// The access policy text the API renders for a draft with this scope.
    pub async fn access_policy(&self, scope: &Value, versioning: bool) -> String {
        let reply = self
            .app
            .post("/policies/access", &admin(ORG), &json!({"scope": scope, "versioning": versioning}))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["text"].as_str().expect("access policy text").to_owned()
    }

    /// Saves an integration; returns its id.
    pub async fn save_integration(
        &self,
        name: &str,
        role_arn: &str,
        scope: &Value,
        versioning: bool,
        region: &str,
    ) -> String {
        let body = json!({
            "name": name,
            "role_arn": role_arn,
            "region": region,
            "scope": scope,
            "versioning": versioning,
        });
        let created = self.app.create(ORG, &body).await;
        created["id"].as_str().expect("id").to_owned()
    }

    /// Set-up is over: from now on the enforcing moto evaluates every request.
    pub async fn enforce(&self) {
        self.moto.enforce_now().await;
        // Guard: enforcement really is on (an unknown key is refused).
        let stranger = s3_client_with(&self.moto.url, "AKIAUNKNOWN000000000", "nope", None).await;
        let refused = bounded("ListBuckets", stranger.list_buckets().send()).await;
        assert!(refused.is_err(), "the enforcing moto served an unknown access key");
    }

    /// The rendered trust policy less its external-ID condition: the common mistake that lets any
    /// org of the platform that names the role in. Panics if the rendered policy has no condition.
    pub fn trust_without_external_id(&self) -> String {
        let mut trust: Value = serde_json::from_str(&self.trust).expect("trust JSON");
        let statement = trust["Statement"][0].as_object_mut().expect("one statement");
        assert!(
            statement.remove("Condition").is_some(),
            "the rendered trust has a condition: {}",
            self.trust
        );
        serde_json::to_string_pretty(&trust).expect("JSON")
    }

    /// The rendered trust policy with its condition widened to any external ID
    /// (`StringLike sts:ExternalId *`): it admits the org's own ID, and everyone else's.
    pub fn trust_with_wildcard_external_id(&self) -> String {
        let mut trust: Value = serde_json::from_str(&self.trust).expect("trust JSON");
        trust["Statement"][0]["Condition"] = json!({"StringLike": {"sts:ExternalId": "*"}});
        serde_json::to_string_pretty(&trust).expect("JSON")
    }

    /// The rendered trust policy naming ANOTHER org's external ID.
    pub fn trust_for_another_external_id(&self) -> String {
        assert_eq!(self.trust.matches(&self.external_id).count(), 1, "{}", self.trust);
        self.trust.replace(&self.external_id, "the-external-id-of-another-org")
    }

    /// S3 in the enforcing moto as the holder of `credentials` (an assumed role) sees it.
    pub async fn s3_as(&self, credentials: &TempCredentials) -> aws_sdk_s3::Client {
        let signing = &credentials.signing;
        s3_client_with(
            &self.moto.url,
            &signing.access_key_id,
            &signing.secret_access_key,
            signing.session_token.as_deref(),
        )
        .await
    }
}

/// How many `AssumeRole` requests a fake STS held at once.
#[derive(Debug, Default)]
pub struct InFlight {
    pub now: AtomicUsize,
    pub max: AtomicUsize,
    pub total: AtomicUsize,
    /// How often a [`Hold::UntilGathered`] group was let go.
    pub releases: AtomicUsize,
}

impl From<Duration> for Hold {
    fn from(delay: Duration) -> Self {
        Hold::For(delay)
    }
}

/// A loopback STS that holds every request as `hold` says, then answers it with HTTP `status` and the
/// STS error `code` (as AWS shapes it). Returns its URL and its request counters.
pub async fn sts_answering_error(status: u16, code: &str, hold: impl Into<Hold>) -> (String, Arc<InFlight>) {
    let error = sts_error(code);
    loopback_sts(hold, move |_| (status, error.clone())).await
}

/// A loopback STS whose role admits exactly `external_id` and answers every other `AssumeRole`
/// (the probe) with `Throttling`: a probe that cannot complete.
pub async fn sts_throttling_other_external_ids(external_id: &str) -> (String, Arc<InFlight>) {
    let wanted = format!("ExternalId={external_id}");
    loopback_sts(Duration::ZERO, move |form| {
        if form.split('&').any(|pair| pair == wanted) {
            (200, sts_credentials())
        } else {
            (400, sts_error("Throttling"))
        }
    })
    .await
}

fn sts_error(code: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}\
         </Code><Message>answered by the test</Message></Error><RequestId>1</RequestId></ErrorResponse>"
    )
}

fn sts_credentials() -> String {
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let expires = expires.format(&time::format_description::well_known::Rfc3339).expect("RFC 3339");
    format!(
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
         <AssumedRoleUser><AssumedRoleId>AROATEST:s</AssumedRoleId>\
         <Arn>arn:aws:sts::210987654321:assumed-role/platform-read/s</Arn></AssumedRoleUser>\
         <Credentials><AccessKeyId>ASIATESTTESTTEST0001</AccessKeyId><SecretAccessKey>secret</SecretAccessKey>\
         <SessionToken>token</SessionToken><Expiration>{expires}</Expiration></Credentials>\
         </AssumeRoleResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleResponse>"
    )
}

/// How a loopback STS holds each request before it answers.
#[derive(Debug, Clone, Copy)]
pub enum Hold {
    /// Every request waits this long.
    For(Duration),
    /// A request waits until `count` requests are held at once (then all of them go), or until
    /// `at_most` has passed. A client that really keeps `count` calls in flight is answered at once;
    /// one that does not waits `at_most` per call. Peak concurrency is then a fact of the client,
    /// not of how busy the machine is.
    UntilGathered { count: usize, at_most: Duration },
}

/// A loopback STS: every request is held as `hold` says, then `respond` (given the form body) says
/// the HTTP status and the XML body.
async fn loopback_sts(
    hold: impl Into<Hold>,
    respond: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
) -> (String, Arc<InFlight>) {
    let hold = hold.into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let stats = Arc::new(InFlight::default());
    let shared = stats.clone();
    let respond = Arc::new(respond);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (stats, respond) = (shared.clone(), respond.clone());
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 8192];
                let body_at = loop {
                    if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buffer[..body_at]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while buffer.len() < body_at + length {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                }
                let released = stats.releases.load(Ordering::SeqCst);
                let now = stats.now.fetch_add(1, Ordering::SeqCst) + 1;
                stats.max.fetch_max(now, Ordering::SeqCst);
                stats.total.fetch_add(1, Ordering::SeqCst);
                match hold {
                    Hold::For(delay) => tokio::time::sleep(delay).await,
                    Hold::UntilGathered { count, at_most } => {
                        if now >= count {
                            stats.releases.fetch_add(1, Ordering::SeqCst);
                        }
                        let deadline = tokio::time::Instant::now() + at_most;
                        while stats.releases.load(Ordering::SeqCst) == released
                            && tokio::time::Instant::now() < deadline
                        {
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                    }
                }
                stats.now.fetch_sub(1, Ordering::SeqCst);
                let (status, body) = respond(&String::from_utf8_lossy(&buffer[body_at..]));
                let answer = format!(
                    "HTTP/1.1 {status} Answer\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (url, stats)
}

/// A loopback listener that accepts every connection and never answers: a dependency that has
/// stopped answering. Dropping it closes the connections it holds.
#[derive(Debug)]
pub struct BlackHole {
    pub url: String,
    pub accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn black_hole() -> BlackHole {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    BlackHole { url, accepted, task }
}

/// The CORS rules `GET /policies/cors` renders for `app`'s org admin, as an S3 CORS configuration.
pub async fn rendered_cors(app: &TestApp) -> aws_sdk_s3::types::CorsConfiguration {
    let reply = app.get("/policies/cors", &admin(ORG)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().expect("a list").iter().map(|s| s.as_str().expect("a string").to_owned()).collect()
    };
    let rules = reply.body["cors"]
        .as_array()
        .expect("cors rules")
        .iter()
        .map(|rule| {
            aws_sdk_s3::types::CorsRule::builder()
                .set_allowed_headers(Some(strings(&rule["AllowedHeaders"])))
                .set_allowed_methods(Some(strings(&rule["AllowedMethods"])))
                .set_allowed_origins(Some(strings(&rule["AllowedOrigins"])))
                .set_expose_headers(Some(strings(&rule["ExposeHeaders"])))
                .max_age_seconds(rule["MaxAgeSeconds"].as_i64().expect("MaxAgeSeconds") as i32)
                .build()
                .expect("a CORS rule")
        })
        .collect();
    aws_sdk_s3::types::CorsConfiguration::builder()
        .set_cors_rules(Some(rules))
        .build()
        .expect("CORS configuration")
}

/// Puts `cors` on `bucket` of a plain (non-enforcing) moto, so that its preflights answer as S3's.
///
/// moto answers an unsigned request for an existing private object with 403 before it looks at
/// the method (`moto/s3/responses.py::_key_response`: anonymous access is an ACL check on the
/// action `s3:<Method>Object`), so an OPTIONS never reaches its CORS evaluation. S3 does not
/// authorize preflights; a bucket policy granting moto's made-up `s3:OptionsObject` to anyone lets
/// the preflight through and nothing else (an anonymous GET stays 403).
pub async fn put_cors_for_preflights(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    cors: aws_sdk_s3::types::CorsConfiguration,
) {
    bounded("PutBucketCors", s3.put_bucket_cors().bucket(bucket).cors_configuration(cors).send())
        .await
        .expect("put the rendered CORS configuration");
    let preflights = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "MotoEvaluatesPreflightsOnlyForReadableObjects",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:OptionsObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*"),
        }],
    });
    bounded("PutBucketPolicy", s3.put_bucket_policy().bucket(bucket).policy(preflights.to_string()).send())
        .await
        .expect("put the preflight bucket policy");
}
