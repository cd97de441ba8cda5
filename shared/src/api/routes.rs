//! Every route of the public API, in one place: its method, its path template (API Gateway's
//! `{name}` syntax), its route key (`"POST /integrations/{id}/validate"`) and the Lambda function
//! that serves it. Matching a method and path to a route lives here too, so the functions, the
//! dev server and `shared::api` agree on what a route is. `template.yaml` declares the same routes;
//! the integration tests (`tests/api/routes.rs`) hold the two together, and the sample events in
//! `events/` to them.

use std::collections::HashMap;

/// The path parameters of a matched route, by name (`id`).
pub type PathParams = HashMap<String, String>;

/// The Lambda function that serves a route (one per `AWS::Serverless::Function` with HTTP events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Integrations,
    Policies,
    Presign,
    Validate,
}

/// One route of the public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /integrations`
    CreateIntegration,
    /// `GET /integrations`
    ListIntegrations,
    /// `GET /integrations/{id}`
    GetIntegration,
    /// `PUT /integrations/{id}`
    ReplaceIntegration,
    /// `DELETE /integrations/{id}`
    DeleteIntegration,
    /// `GET /integrations/{id}/policies`
    IntegrationPolicies,
    /// `POST /integrations/{id}/validate`
    ValidateIntegration,
    /// `GET /policies/trust`
    TrustPolicy,
    /// `POST /policies/access`
    AccessPolicy,
    /// `GET /policies/cors`
    CorsPolicy,
    /// `POST /presign`
    Presign,
    /// `POST /links`
    CreateLinks,
    /// `GET /l/{token}`: a stable link, followed without a token (the link is the capability).
    FollowLink,
    /// `POST /locators/explain`
    ExplainLocators,
    /// `GET /audit`
    Audit,
    /// `POST /policies/trust/rotate`
    RotateExternalId,
    /// `POST /policies/trust/rotate/complete`
    CompleteRotation,
}

impl Route {
    /// Every route, in the order a wrong method's 405 lists the allowed ones.
    pub const ALL: &'static [Route] = &[
        Route::CreateIntegration,
        Route::ListIntegrations,
        Route::GetIntegration,
        Route::ReplaceIntegration,
        Route::DeleteIntegration,
        Route::IntegrationPolicies,
        Route::ValidateIntegration,
        Route::TrustPolicy,
        Route::AccessPolicy,
        Route::CorsPolicy,
        Route::Presign,
        Route::CreateLinks,
        Route::FollowLink,
        Route::ExplainLocators,
        Route::Audit,
        Route::RotateExternalId,
        Route::CompleteRotation,
    ];

    /// API Gateway's route key (method, a space, path template) and serving function: the one
    /// table every other fact derives from.
    const fn spec(self) -> (&'static str, Function) {
        match self {
            Route::CreateIntegration => ("POST /integrations", Function::Integrations),
            Route::ListIntegrations => ("GET /integrations", Function::Integrations),
            Route::GetIntegration => ("GET /integrations/{id}", Function::Integrations),
            Route::ReplaceIntegration => ("PUT /integrations/{id}", Function::Integrations),
            Route::DeleteIntegration => ("DELETE /integrations/{id}", Function::Integrations),
            Route::IntegrationPolicies => ("GET /integrations/{id}/policies", Function::Policies),
            Route::ValidateIntegration => ("POST /integrations/{id}/validate", Function::Validate),
            Route::TrustPolicy => ("GET /policies/trust", Function::Policies),
            Route::AccessPolicy => ("POST /policies/access", Function::Policies),
            Route::CorsPolicy => ("GET /policies/cors", Function::Policies),
            Route::Presign => ("POST /presign", Function::Presign),
            Route::CreateLinks => ("POST /links", Function::Presign),
            Route::FollowLink => ("GET /l/{token}", Function::Presign),
            Route::ExplainLocators => ("POST /locators/explain", Function::Presign),
            Route::Audit => ("GET /audit", Function::Integrations),
            Route::RotateExternalId => ("POST /policies/trust/rotate", Function::Policies),
            Route::CompleteRotation => ("POST /policies/trust/rotate/complete", Function::Policies),
        }
    }

    /// The method and the path template of the route key.
    fn parts(&self) -> (&'static str, &'static str) {
        self.key().split_once(' ').unwrap_or((self.key(), ""))
    }

    /// The HTTP method, upper case (`"POST"`).
    pub fn method(&self) -> &'static str {
        self.parts().0
    }

    /// The path template, with parameters as `{name}` (`"/integrations/{id}"`).
    pub fn template(&self) -> &'static str {
        self.parts().1
    }

    /// The function that serves this route.
    pub fn function(&self) -> Function {
        self.spec().1
    }

    /// Whether API Gateway's JWT authorizer guards the route. Only a stable link is followed
    /// without one: `<img src>` and `<video src>` send no Authorization header, and the token in
    /// the path is itself the proof (`crate::domain::link`).
    pub fn needs_token(&self) -> bool {
        !matches!(self, Route::FollowLink)
    }

    /// API Gateway's route key: `"POST /integrations/{id}"` (also the `Route` dimension of the
    /// functions' metrics).
    pub fn key(&self) -> &'static str {
        self.spec().0
    }

    /// The route with this exact API Gateway route key, if any.
    pub fn from_key(key: &str) -> Option<Route> {
        Route::ALL.iter().copied().find(|r| r.key() == key)
    }

    /// Matches a method (any case) and a request path. A trailing `/` is ignored, and a parameter
    /// never matches an empty segment. `None` when no route has both; [`Route::allowed_methods`]
    /// then tells a wrong method (405) from an unknown path (404).
    pub fn recognize(method: &str, path: &str) -> Option<(Route, PathParams)> {
        let segments = segments(path);
        Route::ALL.iter().find_map(|route| {
            if !route.method().eq_ignore_ascii_case(method) {
                return None;
            }
            route.match_segments(&segments).map(|params| (*route, params))
        })
    }

    /// The methods of every route whose template matches the path, in [`Route::ALL`]'s order:
    /// empty for a path no route has.
    pub fn allowed_methods(path: &str) -> Vec<&'static str> {
        let segments = segments(path);
        Route::ALL.iter().filter(|r| r.match_segments(&segments).is_some()).map(Route::method).collect()
    }

    /// The template with each `{name}` replaced by its value in `params` (a name without one stays
    /// as it is): the path of one resource, as a `Location` header names it.
    pub fn path(&self, params: &[(&str, &str)]) -> String {
        self.template()
            .split('/')
            .map(|segment| {
                param_name(segment)
                    .and_then(|name| params.iter().find(|(n, _)| *n == name))
                    .map_or(segment, |(_, value)| *value)
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    fn match_segments(&self, segments: &[&str]) -> Option<PathParams> {
        let pattern: Vec<&str> = self.template().split('/').skip(1).collect();
        if pattern.len() != segments.len() {
            return None;
        }
        let mut params = PathParams::new();
        for (p, s) in pattern.iter().zip(segments) {
            match param_name(p) {
                Some(_) if s.is_empty() => return None,
                Some(name) => {
                    params.insert(name.to_owned(), (*s).to_owned());
                }
                None if p != s => return None,
                None => {}
            }
        }
        Some(params)
    }
}

impl std::fmt::Display for Route {
    /// The route key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method(), self.template())
    }
}

/// The path's segments after the leading `/`, ignoring trailing slashes.
fn segments(path: &str) -> Vec<&str> {
    path.trim_end_matches('/').split('/').skip(1).collect()
}

fn param_name(segment: &str) -> Option<&str> {
    segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01JDZ8W6Q4V3S2R1P0N9M8K7J6";

    fn id_params() -> PathParams {
        PathParams::from([("id".to_owned(), ID.to_owned())])
    }

    #[test]
    fn every_route_is_listed_once_and_its_key_is_method_space_template() {
        for (i, route) in Route::ALL.iter().enumerate() {
            assert_eq!(Route::ALL.iter().position(|r| r == route), Some(i), "{route:?} is listed twice");
            assert_eq!(route.key(), format!("{} {}", route.method(), route.template()));
            assert_eq!(route.to_string(), route.key());
        }
        let mut keys: Vec<&str> = Route::ALL.iter().map(Route::key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), Route::ALL.len(), "two routes share a key");
    }

    #[test]
    fn the_route_keys_are_the_ones_api_gateway_sends() {
        assert_eq!(Route::CreateIntegration.key(), "POST /integrations");
        assert_eq!(Route::GetIntegration.key(), "GET /integrations/{id}");
        assert_eq!(Route::ValidateIntegration.key(), "POST /integrations/{id}/validate");
        assert_eq!(Route::TrustPolicy.key(), "GET /policies/trust");
        assert_eq!(Route::Presign.key(), "POST /presign");
    }

    #[test]
    fn every_key_reads_back_as_its_route_and_nothing_else_does() {
        for route in Route::ALL {
            assert_eq!(Route::from_key(route.key()), Some(*route));
        }
        for key in
            ["", "$default", "POST", "post /integrations", "POST /integrations/", "GET /integrations/{x}"]
        {
            assert_eq!(Route::from_key(key), None, "{key:?}");
        }
    }

    #[test]
    fn every_route_recognizes_its_own_method_and_a_path_of_its_template() {
        for route in Route::ALL {
            let path = route.path(&[("id", ID), ("token", "k1.AAAA.BBBB")]);
            let expected = if route.template().contains("{id}") {
                id_params()
            } else if route.template().contains("{token}") {
                PathParams::from([("token".to_owned(), "k1.AAAA.BBBB".to_owned())])
            } else {
                PathParams::new()
            };
            assert_eq!(Route::recognize(route.method(), &path), Some((*route, expected)), "{path}");
        }
    }

    #[test]
    fn the_method_matches_in_any_case_and_a_trailing_slash_is_ignored() {
        assert_eq!(
            Route::recognize("get", "/integrations"),
            Some((Route::ListIntegrations, PathParams::new()))
        );
        assert_eq!(
            Route::recognize("GET", "/integrations/"),
            Some((Route::ListIntegrations, PathParams::new()))
        );
        assert_eq!(
            Route::recognize("Delete", &format!("/integrations/{ID}//")),
            Some((Route::DeleteIntegration, id_params()))
        );
    }

    #[test]
    fn an_unknown_path_matches_no_route_and_allows_no_method() {
        let unknown = ["/", "", "/nope", "/integration", "/policies", "/policies/unknown", "/presign/x"];
        for path in unknown.into_iter().chain([format!("/integrations/{ID}/extra").as_str()]) {
            assert_eq!(Route::recognize("GET", path), None, "{path}");
            assert!(Route::allowed_methods(path).is_empty(), "{path}");
        }
    }

    #[test]
    fn a_parameter_never_matches_an_empty_segment() {
        assert_eq!(Route::recognize("GET", "/integrations//policies"), None);
        assert!(Route::allowed_methods("/integrations//policies").is_empty());
    }

    #[test]
    fn a_wrong_method_on_a_known_path_lists_the_allowed_methods_in_route_order() {
        assert_eq!(Route::recognize("DELETE", "/integrations"), None);
        assert_eq!(Route::allowed_methods("/integrations"), ["POST", "GET"]);
        assert_eq!(Route::allowed_methods(&format!("/integrations/{ID}")), ["GET", "PUT", "DELETE"]);
        assert_eq!(Route::allowed_methods(&format!("/integrations/{ID}/validate")), ["POST"]);
        assert_eq!(Route::allowed_methods("/presign"), ["POST"]);
        assert_eq!(Route::allowed_methods("/policies/access/"), ["POST"]);
    }

    #[test]
    fn only_following_a_stable_link_goes_without_a_token() {
        let open: Vec<Route> = Route::ALL.iter().copied().filter(|r| !r.needs_token()).collect();
        assert_eq!(open, [Route::FollowLink]);
        assert_eq!(Route::FollowLink.key(), "GET /l/{token}");
        assert_eq!(Route::recognize("GET", "/l/"), None, "an empty token is no route");
    }

    #[test]
    fn a_path_fills_the_template_s_parameters() {
        assert_eq!(Route::GetIntegration.path(&[("id", ID)]), format!("/integrations/{ID}"));
        assert_eq!(Route::IntegrationPolicies.path(&[("id", "x")]), "/integrations/x/policies");
        assert_eq!(Route::GetIntegration.path(&[]), "/integrations/{id}");
        assert_eq!(Route::Presign.path(&[("id", ID)]), "/presign");
    }

    #[test]
    fn the_policies_documents_are_served_by_the_policies_function_and_validation_by_validate() {
        let served_by = |function| -> Vec<Route> {
            Route::ALL.iter().copied().filter(|r| r.function() == function).collect()
        };
        assert_eq!(
            served_by(Function::Policies),
            [
                Route::IntegrationPolicies,
                Route::TrustPolicy,
                Route::AccessPolicy,
                Route::CorsPolicy,
                Route::RotateExternalId,
                Route::CompleteRotation
            ]
        );
        assert_eq!(served_by(Function::Validate), [Route::ValidateIntegration]);
        assert_eq!(
            served_by(Function::Presign),
            [Route::Presign, Route::CreateLinks, Route::FollowLink, Route::ExplainLocators]
        );
        assert_eq!(served_by(Function::Integrations).len(), 6);
    }
}
