//! `shared::api::routes::Route` is the one list of routes: `template.yaml` declares exactly those HTTP
//! events, each on the function `Route::function` names, and the sample events in `events/` use
//! only those route keys and cover every route. Needs no emulator.

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
    Route::ALL.iter().map(Route::key).collect()
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
        let Some(declared_on) = events.get(&route.key()) else { continue };
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
