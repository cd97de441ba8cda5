//! `shared::api::routes::Route` is the one list of routes: `template.yaml` declares exactly those HTTP
//! events, each on the function `Route::function` names, the sample events in `events/` use only
//! those route keys and cover every route, and `openapi.yaml` describes exactly those operations,
//! each with the security `Route::needs_token` says and its examples taken from `events/`. Only
//! the last test (the dev server's `GET /openapi.json`) needs the emulator.

use serde_json::Value as Json;
use serde_yaml::Value as Yaml;
use shared::api::routes::{Function, Route};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// The function a logical ID of the template deploys, for the ones that serve HTTP routes.
fn function_of(logical_id: &str) -> Option<Function> {
    match logical_id {
        "IntegrationsFunction" => Some(Function::Integrations),
        "PoliciesFunction" => Some(Function::Policies),
        "PresignFunction" => Some(Function::Presign),
        "ValidateFunction" => Some(Function::Validate),
        _ => None,
    }
}

/// A plain string, or the scalar under a CloudFormation tag.
fn text(value: &Yaml) -> Option<&str> {
    match value {
        Yaml::String(s) => Some(s),
        Yaml::Tagged(tagged) => text(&tagged.value),
        _ => None,
    }
}

/// Every `Type: HttpApi` event of every function in `template.yaml`: route key -> logical IDs
/// of the functions that declare it.
fn template_http_events() -> BTreeMap<String, Vec<String>> {
    let path = repo_path("template.yaml");
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let template: Yaml = serde_yaml::from_str(&source).expect("template.yaml is YAML");
    let resources = template["Resources"].as_mapping().expect("template.yaml has Resources");
    let mut events: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (logical_id, resource) in resources {
        let logical_id = text(logical_id).expect("a logical ID is a string");
        if text(&resource["Type"]) != Some("AWS::Serverless::Function") {
            continue;
        }
        let Some(declared) = resource["Properties"]["Events"].as_mapping() else { continue };
        for (name, event) in declared {
            if text(&event["Type"]) != Some("HttpApi") {
                continue;
            }
            let name = text(name).unwrap_or("?");
            let properties = &event["Properties"];
            let method = text(&properties["Method"])
                .unwrap_or_else(|| panic!("{logical_id}.{name}: an HttpApi event without a Method"));
            let path = text(&properties["Path"])
                .unwrap_or_else(|| panic!("{logical_id}.{name}: an HttpApi event without a Path"));
            events.entry(format!("{method} {path}")).or_default().push(logical_id.to_owned());
        }
    }
    events
}

/// Every sample event in `events/` that is an API Gateway request: file name -> its JSON.
fn sample_requests() -> BTreeMap<String, Json> {
    let dir = repo_path("events");
    let mut samples = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let event: Json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
        if event.get("routeKey").is_some() {
            samples.insert(name, event);
        }
    }
    samples
}

fn all_keys() -> BTreeSet<String> {
    Route::ALL.iter().map(|r| r.key().to_owned()).collect()
}

#[test]
fn the_template_declares_exactly_the_routes_of_route_all() {
    let declared: BTreeSet<String> = template_http_events().into_keys().collect();
    let expected = all_keys();
    assert_eq!(
        declared,
        expected,
        "only in template.yaml: {:?}; only in Route::ALL: {:?}",
        declared.difference(&expected).collect::<Vec<_>>(),
        expected.difference(&declared).collect::<Vec<_>>()
    );
}

#[test]
fn every_route_of_the_template_is_on_the_one_function_that_serves_it() {
    let events = template_http_events();
    for route in Route::ALL {
        let Some(declared_on) = events.get(route.key()) else { continue };
        assert_eq!(
            declared_on.len(),
            1,
            "{route} is declared on {declared_on:?}; one function serves a route"
        );
        let function = function_of(&declared_on[0])
            .unwrap_or_else(|| panic!("{route} is declared on {}, which serves no Function", declared_on[0]));
        assert_eq!(function, route.function(), "{route} is declared on {}", declared_on[0]);
    }
}

#[test]
fn every_sample_event_names_a_route_of_route_all_and_its_path_matches_that_route() {
    let samples = sample_requests();
    assert!(!samples.is_empty(), "events/ has no API Gateway sample");
    for (name, event) in &samples {
        let key = event["routeKey"].as_str().unwrap_or_else(|| panic!("{name}: routeKey is not a string"));
        let route =
            Route::from_key(key).unwrap_or_else(|| panic!("{name}: {key:?} is not a route of Route::ALL"));
        assert_eq!(event["requestContext"]["routeKey"], key, "{name}: requestContext.routeKey");
        let method = event["requestContext"]["http"]["method"].as_str().unwrap_or_default();
        let path = event["rawPath"].as_str().unwrap_or_default();
        let recognized = Route::recognize(method, path).map(|(route, _)| route);
        assert_eq!(recognized, Some(route), "{name}: {method} {path} is not {key}");
    }
}

#[test]
fn every_route_has_a_sample_event() {
    let sampled: BTreeSet<String> =
        sample_requests().values().filter_map(|e| e["routeKey"].as_str().map(str::to_owned)).collect();
    let missing: Vec<String> = all_keys().difference(&sampled).cloned().collect();
    assert!(missing.is_empty(), "no sample event in events/ for {missing:?}");
}

/// Every HttpApi event's `Auth` and `RouteSettings`, by route key.
fn template_route_settings() -> BTreeMap<String, (Yaml, Yaml)> {
    let path = repo_path("template.yaml");
    let source = std::fs::read_to_string(&path).unwrap();
    let template: Yaml = serde_yaml::from_str(&source).unwrap();
    let mut settings = BTreeMap::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else { continue };
        for (_, event) in events.iter().filter(|(_, e)| text(&e["Type"]) == Some("HttpApi")) {
            let p = &event["Properties"];
            let key = format!("{} {}", text(&p["Method"]).unwrap(), text(&p["Path"]).unwrap());
            settings.insert(key, (p["Auth"].clone(), p["RouteSettings"].clone()));
        }
    }
    settings
}

#[test]
fn only_the_stable_link_route_goes_without_the_jwt_authorizer_and_it_is_throttled_on_its_own() {
    for (key, (auth, throttle)) in template_route_settings() {
        let route = Route::from_key(&key).unwrap();
        if route.needs_token() {
            assert!(auth.is_null(), "{key} must keep the API's default JWT authorizer: {auth:?}");
        } else {
            assert_eq!(text(&auth["Authorizer"]), Some("NONE"), "{key}: {auth:?}");
            let rate = throttle["ThrottlingRateLimit"].as_u64().unwrap_or(0);
            let burst = throttle["ThrottlingBurstLimit"].as_u64().unwrap_or(0);
            assert!(rate > 0 && burst >= rate, "{key} is throttled: {throttle:?}");
        }
    }
}

/// `openapi.yaml`, as JSON.
fn openapi() -> Json {
    let path = repo_path("openapi.yaml");
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_yaml::from_str(&source).expect("openapi.yaml is YAML")
}

const HTTP_METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Every operation of the OpenAPI document: route key (`"GET /integrations/{id}"`) -> operation.
fn openapi_operations() -> BTreeMap<String, Json> {
    let document = openapi();
    let paths = document["paths"].as_object().expect("openapi.yaml has paths");
    let mut operations = BTreeMap::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("a path item is a map") {
            if HTTP_METHODS.contains(&method.as_str()) {
                operations.insert(format!("{} {path}", method.to_uppercase()), operation.clone());
            }
        }
    }
    operations
}

fn only_in(a: &BTreeSet<String>, b: &BTreeSet<String>) -> Vec<String> {
    a.difference(b).cloned().collect()
}

#[test]
fn openapi_route_list_template_and_sample_events_are_one_set_of_routes() {
    let code = all_keys();
    let sets = [
        ("openapi.yaml", openapi_operations().into_keys().collect::<BTreeSet<String>>()),
        ("template.yaml's HttpApi events", template_http_events().into_keys().collect()),
        (
            "events/",
            sample_requests().values().filter_map(|e| e["routeKey"].as_str().map(str::to_owned)).collect(),
        ),
    ];
    for (source, keys) in sets {
        assert_eq!(
            keys,
            code,
            "only in {source}: {:?}; only in Route::ALL: {:?}",
            only_in(&keys, &code),
            only_in(&code, &keys)
        );
    }
}

#[test]
fn openapi_security_of_each_operation_is_the_route_s_needs_token() {
    let document = openapi();
    let scheme = &document["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    assert_eq!(scheme["bearerFormat"], "JWT", "{scheme}");
    let bearer = serde_json::json!([{"bearerAuth": []}]);
    assert_eq!(document["security"], bearer, "the JWT bearer scheme is the document's default");
    for (key, operation) in openapi_operations() {
        let route = Route::from_key(&key).unwrap_or_else(|| panic!("{key} is not a route of Route::ALL"));
        let security = operation.get("security").unwrap_or(&document["security"]);
        if route.needs_token() {
            assert_eq!(security, &bearer, "{key} needs the bearer token");
            assert!(operation["responses"].get("401").is_some(), "{key} documents 401 UNAUTHORIZED");
        } else {
            assert_eq!(security, &serde_json::json!([]), "{key} is followed without a token");
            assert!(operation["responses"].get("401").is_none(), "{key} never answers 401");
        }
    }
}

/// Every `x-event` of the document (on an example or a parameter), with the JSON pointer of the
/// object holding it.
fn openapi_event_references(value: &Json, pointer: &str, found: &mut Vec<(String, Json)>) {
    match value {
        Json::Object(map) => {
            if map.contains_key("x-event") {
                found.push((pointer.to_owned(), value.clone()));
            }
            for (key, child) in map {
                openapi_event_references(child, &format!("{pointer}/{key}"), found);
            }
        }
        Json::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                openapi_event_references(child, &format!("{pointer}/{i}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn openapi_examples_are_the_sample_events_bodies_and_parameters() {
    let samples = sample_requests();
    let mut references = Vec::new();
    openapi_event_references(&openapi(), "", &mut references);
    let mut bodies = BTreeSet::new();
    for (pointer, holder) in &references {
        let file = holder["x-event"].as_str().unwrap_or_else(|| panic!("{pointer}: x-event is not a string"));
        let name =
            file.strip_prefix("events/").unwrap_or_else(|| panic!("{pointer}: {file} is not in events/"));
        let event = samples.get(name).unwrap_or_else(|| panic!("{pointer}: no API sample event {file}"));
        if let Some(value) = holder.get("value") {
            // A request body example.
            let body: Json = serde_json::from_str(event["body"].as_str().unwrap_or("null"))
                .unwrap_or_else(|e| panic!("{file}: the body is not JSON: {e}"));
            assert_eq!(value, &body, "{pointer}: the example is not {file}'s body");
            bodies.insert(name.to_owned());
        } else {
            // A parameter: its example is what the event sends.
            let name_of = holder["name"].as_str().unwrap_or_else(|| panic!("{pointer}: no name"));
            let example = holder["example"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| holder["example"].to_string());
            let sent = match holder["in"].as_str() {
                Some("path") => event["pathParameters"][name_of].as_str().map(str::to_owned),
                Some("query") => event["queryStringParameters"][name_of].as_str().map(str::to_owned),
                Some("header") => event["headers"][name_of.to_ascii_lowercase()].as_str().map(str::to_owned),
                other => panic!("{pointer}: a parameter in {other:?}"),
            };
            assert_eq!(
                sent.as_deref(),
                Some(example.as_str()),
                "{pointer}: {name_of} is not what {file} sends"
            );
        }
    }
    // Every sample event with a body is an example of its operation.
    let with_body: BTreeSet<String> =
        samples.iter().filter(|(_, e)| e["body"].as_str().is_some()).map(|(n, _)| n.clone()).collect();
    assert_eq!(bodies, with_body, "sample events with a body and the document's body examples");
    let operations = openapi_operations();
    for name in &with_body {
        let key = samples[name]["routeKey"].as_str().unwrap_or_default();
        let examples = &operations[key]["requestBody"]["content"]["application/json"]["examples"];
        let listed = examples
            .as_object()
            .is_some_and(|all| all.values().any(|e| e["x-event"] == format!("events/{name}")));
        assert!(listed, "{key}'s request examples do not include events/{name}");
    }
}

#[tokio::test]
async fn the_dev_server_serves_openapi_yaml_as_json_without_a_token() {
    let served: Json =
        serde_json::from_str(devserver::openapi_json().expect("openapi.yaml reads")).expect("JSON");
    assert_eq!(served, openapi(), "the compiled-in document is openapi.yaml");

    let app = crate::helpers::spawn_app_serving(None).await;
    let reply = reqwest::get(format!("{}{}", app.url, devserver::OPENAPI_PATH)).await.expect("answers");
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-type"], "application/json");
    let body: Json = reply.json().await.expect("JSON");
    assert_eq!(body["openapi"], "3.1.0");
    assert_eq!(body, openapi());
    let post =
        reqwest::Client::new().post(format!("{}{}", app.url, devserver::OPENAPI_PATH)).send().await.unwrap();
    assert_eq!(post.status(), 404, "only GET and HEAD: it is a file, not a route");
}
