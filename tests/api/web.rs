//! The dev server serves the built web app at `/` beside the API, as a static host would: known
//! file types from one directory, no way out of it, and the API's own answers unchanged.

use crate::helpers::{admin, spawn_app_serving};
use serde_json::json;

fn web_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("index.html"), "<!doctype html><title>wizard</title>").unwrap();
    std::fs::write(dir.path().join("app.js"), "export {};").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a web asset").unwrap();
    std::fs::write(dir.path().join(".secret.js"), "hidden").unwrap();
    dir
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.expect("dev server answers")
}

#[tokio::test]
async fn the_root_serves_the_web_app_with_a_strict_content_security_policy() {
    let dir = web_dir();
    let app = spawn_app_serving(Some(dir.path().to_owned())).await;

    let page = get(&format!("{}/", app.url)).await;
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"), "{csp}");
    assert!(page.text().await.unwrap().contains("<title>wizard</title>"));

    let script = get(&format!("{}/app.js", app.url)).await;
    assert_eq!(script.status(), 200);
    assert_eq!(script.headers()["content-type"], "text/javascript; charset=utf-8");

    let head = reqwest::Client::new().head(format!("{}/app.js", app.url)).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "10", "HEAD tells the size of the file");
}

#[tokio::test]
async fn nothing_outside_the_web_directory_or_of_an_unknown_type_is_served() {
    let dir = web_dir();
    let app = spawn_app_serving(Some(dir.path().to_owned())).await;
    let client = reqwest::Client::new();
    for path in [
        "/notes.txt",
        "/.secret.js",
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/..%2fCargo.toml",
        "/sub/app.js",
        "/missing.js",
        "/index.html/",
    ] {
        let reply = client.get(format!("{}{path}", app.url)).send().await.unwrap();
        assert_eq!(reply.status(), 404, "{path}");
        let body: serde_json::Value = reply.json().await.unwrap();
        assert_eq!(body["error"]["code"], "NOT_FOUND", "{path}");
    }
    let post = client.post(format!("{}/", app.url)).send().await.unwrap();
    assert_eq!(post.status(), 404, "only GET and HEAD reach the web app");
}

#[tokio::test]
async fn the_api_answers_as_before_beside_the_web_app() {
    let dir = web_dir();
    let app = spawn_app_serving(Some(dir.path().to_owned())).await;
    let listed = app.get("/integrations", &admin("web-org")).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body, json!({"integrations": []}));
    let unauthenticated = app.call("GET", "/integrations", None, None).await;
    assert_eq!(unauthenticated.status, 401);
}

#[tokio::test]
async fn without_a_built_web_app_the_root_is_a_json_not_found() {
    let app = spawn_app_serving(None).await;
    let reply = get(&format!("{}/", app.url)).await;
    assert_eq!(reply.status(), 404);
}
