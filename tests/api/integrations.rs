//! Integration CRUD over HTTP: create, list, read, replace, delete, with versions and scopes.

use crate::helpers::*;
use futures::future::join_all as futures_join_all;
use serde_json::json;

#[tokio::test]
async fn an_admin_creates_an_integration_and_gets_it_back_with_its_policies() {
    let app = spawn_app().await;
    let created = app.create("acme", &default_body("Production images", &["bucket-b", "bucket-a"])).await;
    assert_eq!(created["version"], 1);
    assert_eq!(created["status"]["state"], "unverified");
    assert_eq!(created["scope"]["buckets"], json!(["bucket-a", "bucket-b"]));
    let access = &created["policies"]["access"]["policy"]["Statement"][0];
    assert_eq!(access["Action"], json!(["s3:GetObject", "s3:GetObjectVersion"]));
    let trust = &created["policies"]["trust"]["policy"]["Statement"][0];
    assert_eq!(trust["Principal"]["AWS"], PLATFORM_PRINCIPAL);
    let external_id = created["policies"]["trust"]["external_id"].as_str().unwrap();
    assert_eq!(trust["Condition"]["StringEquals"]["sts:ExternalId"], external_id);

    let id = created["id"].as_str().unwrap();
    let fetched = app.get(&format!("/integrations/{id}"), &admin("acme")).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body["name"], "Production images");
    let listed = app.get("/integrations", &admin("acme")).await;
    assert_eq!(listed.body["integrations"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_replace_with_the_current_version_bumps_it_and_a_stale_one_gets_412_naming_the_current() {
    let app = spawn_app().await;
    let created = app.create("acme", &bucket_body("Images", "bucket-a")).await;
    let id = created["id"].as_str().unwrap();
    let mut body = bucket_body("Images renamed", "bucket-a");
    body["version"] = json!(1);
    let replaced = app.put(&format!("/integrations/{id}"), &admin("acme"), &body).await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    assert_eq!(replaced.body["version"], 2);

    let stale = app.put(&format!("/integrations/{id}"), &admin("acme"), &body).await;
    assert_eq!(stale.status, 412);
    assert_eq!(stale.code(), "VERSION_MISMATCH");
    assert!(stale.message().contains("version 2"), "{}", stale.message());

    body.as_object_mut().unwrap().remove("version");
    let unversioned = app.put(&format!("/integrations/{id}"), &admin("acme"), &body).await;
    assert_eq!(unversioned.status, 412);
    assert_eq!(unversioned.code(), "VERSION_REQUIRED");

    let via_header = app
        .call_with(
            "PUT",
            &format!("/integrations/{id}"),
            Some(&admin("acme")),
            Some(body.to_string()),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(via_header.status, 200, "{}", via_header.body);
    assert_eq!(via_header.body["version"], 3);
}

#[tokio::test]
async fn two_integrations_cannot_share_a_scope_and_the_conflict_names_the_holder() {
    let app = spawn_app().await;
    app.create("acme", &bucket_body("First", "bucket-a")).await;
    let second = app.post("/integrations", &admin("acme"), &bucket_body("Second", "bucket-a")).await;
    assert_eq!(second.status, 409);
    assert_eq!(second.code(), "SCOPE_CONFLICT");
    assert!(second.message().contains("First"), "{}", second.message());

    app.create("acme", &default_body("Default", &["bucket-a"])).await;
    let another_default =
        app.post("/integrations", &admin("acme"), &default_body("Other", &["bucket-c"])).await;
    assert_eq!(another_default.status, 409);
    assert!(another_default.message().contains("default"), "{}", another_default.message());

    let mut prefixed = bucket_body("Prefix", "bucket-a");
    prefixed["scope"]["prefix"] = json!("images/");
    app.create("acme", &prefixed).await;
}

#[tokio::test]
async fn moving_an_integration_to_another_scope_frees_the_old_one() {
    let app = spawn_app().await;
    let created = app.create("acme", &bucket_body("Mover", "bucket-a")).await;
    let id = created["id"].as_str().unwrap();
    let mut moved = bucket_body("Mover", "bucket-b");
    moved["version"] = json!(1);
    assert_eq!(app.put(&format!("/integrations/{id}"), &admin("acme"), &moved).await.status, 200);
    app.create("acme", &bucket_body("Takes the old scope", "bucket-a")).await;
    let clash = app.post("/integrations", &admin("acme"), &bucket_body("Clash", "bucket-b")).await;
    assert_eq!(clash.status, 409);
}

#[tokio::test]
async fn delete_returns_204_then_404_and_respects_if_match() {
    let app = spawn_app().await;
    let created = app.create("acme", &bucket_body("Doomed", "bucket-a")).await;
    let path = format!("/integrations/{}", created["id"].as_str().unwrap());
    let stale = app.call_with("DELETE", &path, Some(&admin("acme")), None, &[("if-match", "7")]).await;
    assert_eq!(stale.status, 412);
    let deleted = app.call_with("DELETE", &path, Some(&admin("acme")), None, &[("if-match", "1")]).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(app.delete(&path, &admin("acme")).await.status, 404);
    assert_eq!(app.get(&path, &admin("acme")).await.status, 404);
    // The scope is free again.
    app.create("acme", &bucket_body("Reborn", "bucket-a")).await;
}

#[tokio::test]
async fn listing_pages_with_an_opaque_cursor_until_every_integration_is_seen() {
    let app = spawn_app().await;
    for i in 0..7 {
        app.create("acme", &bucket_body(&format!("I{i}"), &format!("bucket-{i}"))).await;
    }
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(cursor) => format!("/integrations?limit=3&next={cursor}"),
            None => "/integrations?limit=3".to_owned(),
        };
        let page = app.get(&path, &admin("acme")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.body["integrations"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|i| i["name"].as_str().unwrap().to_owned()));
        match page.body["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_owned()),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, (0..7).map(|i| format!("I{i}")).collect::<Vec<_>>());
    let bad = app.get("/integrations?next=zz", &admin("acme")).await;
    assert_eq!((bad.status, bad.code()), (400, "INVALID_CURSOR"));
    let bad_limit = app.get("/integrations?limit=1000", &admin("acme")).await;
    assert_eq!((bad_limit.status, bad_limit.code()), (400, "INVALID_LIMIT"));
}

#[tokio::test]
async fn fifty_concurrent_creates_of_one_scope_have_exactly_one_winner() {
    let app = spawn_app().await;
    let token = admin("acme");
    let attempts = (0..50).map(|i| {
        let app = &app;
        let token = token.clone();
        async move {
            app.post("/integrations", &token, &bucket_body(&format!("Racer {i}"), "bucket-a")).await.status
        }
    });
    let statuses = futures_join_all(attempts).await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 49, "{statuses:?}");
    let listed = app.get("/integrations", &token).await;
    assert_eq!(listed.body["integrations"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_hundred_concurrent_replaces_lose_no_update() {
    let app = spawn_app().await;
    let created = app.create("acme", &bucket_body("Counter", "bucket-a")).await;
    let path = format!("/integrations/{}", created["id"].as_str().unwrap());
    let token = admin("acme");
    // Each writer reads, then replaces with the version it read, retrying on 412 as a client should.
    let writers = (0..100).map(|i| {
        let (app, path, token) = (&app, path.clone(), token.clone());
        async move {
            loop {
                let current = app.get(&path, &token).await.body;
                let mut body = bucket_body(&format!("Writer {i}"), "bucket-a");
                body["version"] = current["version"].clone();
                match app.put(&path, &token, &body).await.status {
                    200 => return,
                    412 | 429 => continue,
                    other => panic!("unexpected status {other}"),
                }
            }
        }
    });
    futures_join_all(writers).await;
    let last = app.get(&path, &token).await;
    assert_eq!(last.body["version"], 101, "every one of the 100 replaces must land exactly once");
}
