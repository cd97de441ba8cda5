//! A moto server of a test's own, started through the project's launcher (`scripts/moto_server.py`,
//! which patches moto's missing-condition-key rule to AWS's), for tests that need IAM enforcement,
//! a request count at the emulator, or an STS endpoint they can take away.
//!
//! Life cycle: [`MotoProcess::start`] starts it with `INITIAL_NO_AUTH_ACTION_COUNT` so large that
//! nothing is enforced; the test does all its set-up requests (unsigned IAM calls through
//! [`MotoProcess::iam`], S3 objects, ...), then [`MotoProcess::enforce_now`] switches enforcement on
//! through moto's own `POST /moto-api/reset-auth` with body `0` (moto 5.2.5
//! `moto_api/_internal/responses.py::reset_auth_response`: it sets the count to the body and resets
//! the request counter, so every later request is authenticated and authorized). The process is
//! killed when the value is dropped, also when the test panics.
//!
//! Counting at the emulator: moto's request recorder (`/moto-api/recorder/*`, moto 5.2.5
//! `moto_api/_internal/recorder/models.py`) appends every request it serves, body base64-encoded,
//! to `MOTO_RECORDER_FILEPATH` (set per process below, so nothing lands in the repository).

use base64::Engine as _;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Large enough that set-up never reaches it; `enforce_now` lowers it to 0.
const NO_AUTH_REQUESTS: &str = "1000000000";
/// What the unsigned set-up calls put in `Authorization`: moto routes by the credential scope and
/// checks no signature before enforcement starts.
const FAKE_IAM_AUTH: &str =
    "AWS4-HMAC-SHA256 Credential=testing/20200101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0";

/// The platform's account: moto's default, where the platform principal lives.
pub const PLATFORM_ACCOUNT: &str = "123456789012";
/// The customer's account: every customer role and bucket lives here, never in the platform's, as
/// on AWS. moto picks a request's account from its `x-moto-account-id` header, else from its access
/// key's account (moto 5.2.5 `core/responses.py::get_current_account`).
pub const CUSTOMER_ACCOUNT: &str = "210987654321";

#[derive(Debug)]
pub struct MotoProcess {
    pub url: String,
    child: Option<Child>,
    dir: PathBuf,
    http: reqwest::Client,
}

/// The keys of an emulator IAM user.
#[derive(Debug, Clone)]
pub struct IamUser {
    pub arn: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

fn launcher() -> (String, String) {
    let root = format!("{}/..", env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var("MOTO_PYTHON").unwrap_or_else(|_| format!("{root}/.tools/venv/bin/python"));
    let launcher =
        std::env::var("MOTO_LAUNCHER").unwrap_or_else(|_| format!("{root}/scripts/moto_server.py"));
    (python, launcher)
}

impl MotoProcess {
    /// Starts a moto that enforces nothing until [`MotoProcess::enforce_now`].
    pub async fn start() -> Self {
        let (python, launcher) = launcher();
        let dir =
            std::env::temp_dir().join(format!("moto-it-{}", ulid::Ulid::new().to_string().to_lowercase()));
        std::fs::create_dir_all(&dir).expect("create the moto run dir");
        let ready = dir.join("url");
        let log = std::fs::File::create(dir.join("moto.log")).expect("create the moto log");
        let mut command = Command::new(&python);
        command
            .arg(&launcher)
            .args(["--host", "127.0.0.1", "--port", "0", "--ready-file"])
            .arg(&ready)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        // The server must not see the test's AWS settings (moto reads some) nor a MOTO_PORT.
        for (name, _) in std::env::vars() {
            if name.starts_with("AWS_") || name.starts_with("MOTO_") {
                command.env_remove(name);
            }
        }
        command
            .env("INITIAL_NO_AUTH_ACTION_COUNT", NO_AUTH_REQUESTS)
            .env("MOTO_RECORDER_FILEPATH", dir.join("recording"))
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let child = command.spawn().unwrap_or_else(|e| panic!("start {python} {launcher}: {e}"));
        let mut moto = Self { url: String::new(), child: Some(child), dir, http: reqwest::Client::new() };

        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                if let Some(url) = text.lines().next().filter(|l| l.starts_with("http://127.0.0.1:")) {
                    moto.url = url.to_owned();
                    return moto;
                }
            }
            let exited = moto.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!("the moto launcher exited during start-up ({status}); its log:\n{}", moto.log());
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("moto did not start within {START_TIMEOUT:?}; its log:\n{}", moto.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("moto.log")).unwrap_or_default()
    }

    /// Kills the server now (an STS outage); later requests to `url` are refused.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    async fn moto_api(&self, path: &str, body: &str) -> String {
        let response = tokio::time::timeout(
            Duration::from_secs(10),
            self.http
                .post(format!("{}/moto-api/{path}", self.url))
                // Not a form type: moto reads the raw body (a form body would be parsed away).
                .header("content-type", "text/plain")
                .body(body.to_owned())
                .send(),
        )
        .await
        .expect("moto-api answers in time")
        .expect("moto-api answers");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "POST /moto-api/{path}: {status} {text}");
        text
    }

    /// From the next request on, every request is authenticated and authorized.
    pub async fn enforce_now(&self) {
        let answer = self.moto_api("reset-auth", "0").await;
        assert!(answer.contains("\"ok\""), "reset-auth: {answer}");
    }

    /// Replaces a role's trust policy mid-test (trust revoked or widened): enforcement pauses for
    /// the one unsigned IAM call and is back on when this returns.
    pub async fn update_trust(&self, account: &str, role_name: &str, trust_policy: &str) {
        self.moto_api("reset-auth", NO_AUTH_REQUESTS).await;
        self.iam(
            account,
            &[
                ("Action", "UpdateAssumeRolePolicy"),
                ("RoleName", role_name),
                ("PolicyDocument", trust_policy),
            ],
        )
        .await;
        self.enforce_now().await;
    }

    /// Empties the recording and records every request from now on.
    pub async fn start_recording(&self) {
        self.moto_api("recorder/reset-recording", "").await;
        self.moto_api("recorder/start-recording", "").await;
    }

    /// The form bodies of the recorded requests whose `Action` is `action` (and, when given,
    /// whose `RoleArn` is `role_arn`).
    pub async fn recorded(&self, action: &str, role_arn: Option<&str>) -> Vec<Vec<(String, String)>> {
        let text = tokio::time::timeout(
            Duration::from_secs(10),
            self.http.get(format!("{}/moto-api/recorder/download-recording", self.url)).send(),
        )
        .await
        .expect("the recording downloads in time")
        .expect("the recording downloads")
        .text()
        .await
        .expect("recording text");
        let mut found = Vec::new();
        for entry in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
            let entry = entry.unwrap_or_else(|e| panic!("unreadable recording ({e}):\n{text}"));
            let body = entry["body"].as_str().unwrap_or("");
            let bytes = if entry["body_encoded"] == Value::Bool(true) {
                base64::engine::general_purpose::STANDARD.decode(body).expect("base64 body")
            } else {
                body.as_bytes().to_vec()
            };
            let form = parse_form(&String::from_utf8_lossy(&bytes));
            let get = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
            if get("Action") == Some(action) && role_arn.is_none_or(|arn| get("RoleArn") == Some(arn)) {
                found.push(form);
            }
        }
        found
    }

    /// How many `sts:AssumeRole` requests for `role_arn` reached this emulator since recording began.
    pub async fn assume_role_requests(&self, role_arn: &str) -> usize {
        self.recorded("AssumeRole", Some(role_arn)).await.len()
    }

    /// One IAM query-API call in `account`, unsigned: only for set-up, before
    /// [`MotoProcess::enforce_now`]. Returns the XML answer; panics on an error answer.
    pub async fn iam(&self, account: &str, params: &[(&str, &str)]) -> String {
        let mut body = String::from("Version=2010-05-08");
        for (name, value) in params {
            body.push('&');
            body.push_str(&form_encode(name));
            body.push('=');
            body.push_str(&form_encode(value));
        }
        let response = tokio::time::timeout(
            Duration::from_secs(10),
            self.http
                .post(format!("{}/", self.url))
                .header("authorization", FAKE_IAM_AUTH)
                .header("x-moto-account-id", account)
                .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
                .body(body)
                .send(),
        )
        .await
        .expect("IAM answers in time")
        .expect("IAM answers");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "IAM {params:?}: {status} {text}");
        text
    }

    /// An IAM user with an access key, allowed `sts:AssumeRole` on any role (whether a role lets
    /// it in is then up to the role's trust policy).
    /// The user is in the platform's account.
    pub async fn create_user_allowed_to_assume_roles(&self, name: &str) -> IamUser {
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]
        });
        self.create_user(PLATFORM_ACCOUNT, name, &policy.to_string()).await
    }

    /// The customer's administrator: an IAM user of [`CUSTOMER_ACCOUNT`] allowed everything there
    /// (its keys act in that account: buckets and objects made with them are the customer's).
    pub async fn create_customer_admin(&self) -> IamUser {
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
        });
        self.create_user(CUSTOMER_ACCOUNT, "customer-admin", &policy.to_string()).await
    }

    /// An IAM user of `account` with an access key and this inline policy.
    pub async fn create_user(&self, account: &str, name: &str, policy: &str) -> IamUser {
        let created = self.iam(account, &[("Action", "CreateUser"), ("UserName", name)]).await;
        let key = self.iam(account, &[("Action", "CreateAccessKey"), ("UserName", name)]).await;
        self.iam(
            account,
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", name),
                ("PolicyName", "inline"),
                ("PolicyDocument", policy),
            ],
        )
        .await;
        IamUser {
            arn: xml_text(&created, "Arn").expect("user ARN"),
            access_key_id: xml_text(&key, "AccessKeyId").expect("access key id"),
            secret_access_key: xml_text(&key, "SecretAccessKey").expect("secret access key"),
        }
    }

    /// A customer role (in [`CUSTOMER_ACCOUNT`]) with this trust policy and this inline access
    /// policy, both exactly as given.
    pub async fn create_role(&self, name: &str, trust_policy: &str, access_policy: &str) -> String {
        self.create_role_in(CUSTOMER_ACCOUNT, name, trust_policy, access_policy).await
    }

    /// [`MotoProcess::create_role`] in `account`.
    pub async fn create_role_in(
        &self,
        account: &str,
        name: &str,
        trust_policy: &str,
        access_policy: &str,
    ) -> String {
        let created = self
            .iam(
                account,
                &[("Action", "CreateRole"), ("RoleName", name), ("AssumeRolePolicyDocument", trust_policy)],
            )
            .await;
        self.iam(
            account,
            &[
                ("Action", "PutRolePolicy"),
                ("RoleName", name),
                ("PolicyName", "platform-read"),
                ("PolicyDocument", access_policy),
            ],
        )
        .await;
        xml_text(&created, "Arn").expect("role ARN")
    }
}

impl Drop for MotoProcess {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The text of the first `<tag>` element (entities decoded).
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}
