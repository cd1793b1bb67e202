//! Structured logs: `STOREDESK_LOG` (or `RUST_LOG`) filters, `STOREDESK_LOG_FORMAT=json` for JSON lines.
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

pub fn init(default_filter: &str, json: bool) {
    let filter = std::env::var("STOREDESK_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default_filter.to_string());
    // sqlx logs every statement at info; that drowns the request log and may echo values.
    let filter = EnvFilter::try_new(format!(
        "{filter},sqlx=warn,hyper=warn,reqwest=warn,rustls=warn"
    ))
    .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry
            .with(fmt::layer().json().with_current_span(true))
            .try_init()
    } else {
        registry.with(fmt::layer().with_target(false)).try_init()
    };
    // A second init (tests, demo) is harmless: the first subscriber stays.
    let _ = result;
}

/// What the request log says of an address: the route's pattern with only the project's slug filled in, so neither
/// a customer's ids (in a path such as `/projects/demo/customers/{id}`, or in a search's query string) nor a
/// notification URL's secret token reach the log; an address no route matches is logged by its path alone.
pub fn logged_target(path: &str, pattern: Option<&str>) -> String {
    match pattern {
        Some(pattern) if pattern.contains("{project}") => {
            let slug = path.split('/').nth(2).unwrap_or("{project}");
            pattern.replacen("{project}", slug, 1)
        }
        Some(pattern) => pattern.to_owned(),
        None => path.to_owned(),
    }
}

/// The span of each HTTP request, as tracing-actix-web's default one but for its address ([`logged_target`]): a
/// notification URL's path is its secret (the only thing that keeps strangers from making us verify their
/// payloads), and lookups carry customers' ids, so requests are logged by their route pattern.
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        use actix_web::HttpMessage as _;
        // The webhook's route is named without running the router's patterns (it is the hot path).
        let pattern = match webhook_route(request.path()) {
            Some(route) => Some(route.to_owned()),
            None => request.match_pattern(),
        };
        let target = logged_target(request.path(), pattern.as_deref());
        let route = pattern.unwrap_or_else(|| "default".to_owned());
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        // The client as `crate::client_address` reads it; the proxies it trusts are given to the app by startup.
        let client = request
            .app_data::<actix_web::web::Data<crate::client_address::TrustedProxies>>()
            .map_or_else(
                || {
                    crate::client_address::of_request(
                        request.peer_addr(),
                        request.headers(),
                        &Default::default(),
                    )
                },
                |trusted| {
                    crate::client_address::of_request(
                        request.peer_addr(),
                        request.headers(),
                        trusted,
                    )
                },
            );
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.client_ip = %client,
            http.route = %route,
            http.target = %target,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// The route pattern of a path the notification webhook's route matches, without asking the router: its match is a
/// regular expression, run once more for the span of every notification (about 1 % of the webhook's CPU).
fn webhook_route(path: &str) -> Option<&'static str> {
    let token = path.strip_prefix("/apple/notifications/")?;
    (!token.is_empty() && !token.contains('/')).then_some("/apple/notifications/{project_token}")
}

/// The innermost cause of a failed request, without the URL (which may carry a secret path): "Connection refused
/// (os error 111)". reqwest's own message says only "error sending request for url (…)".
pub fn innermost_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut source = e.source();
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    last.unwrap_or_else(|| "no details".into())
}

#[cfg(test)]
mod tests {
    use super::logged_target;

    #[test]
    fn the_log_names_routes_not_customers_or_secrets() {
        assert_eq!(
            logged_target(
                "/projects/demo/customers/2000000874121031",
                Some("/projects/{project}/customers/{id}")
            ),
            "/projects/demo/customers/{id}"
        );
        assert_eq!(
            logged_target(
                "/apple/notifications/secret-token-123",
                Some("/apple/notifications/{project_token}")
            ),
            "/apple/notifications/{project_token}"
        );
        // The query string (a search for an order id, an e-mail address) is never part of the target.
        assert_eq!(
            logged_target(
                "/projects/demo/transactions",
                Some("/projects/{project}/transactions")
            ),
            "/projects/demo/transactions"
        );
        assert_eq!(logged_target("/no/such/page", None), "/no/such/page");
    }

    #[test]
    fn the_webhook_route_is_named_as_the_router_names_it() {
        let def = actix_web::dev::ResourceDef::new("/apple/notifications/{project_token}");
        for path in [
            "/apple/notifications/AZaz09-_AZaz09-_AZaz09-_AZaz09-_AZaz09-_xyz",
            "/apple/notifications/a%2Fb",
            "/apple/notifications/",
            "/apple/notifications",
            "/apple/notifications/a/b",
            "/apple/notifications/ab/",
            "/apple/notificationsx/a",
            "/projects/demo/notifications/1",
        ] {
            assert_eq!(
                super::webhook_route(path),
                def.is_match(path)
                    .then(|| def.pattern().unwrap_or_default()),
                "{path}"
            );
        }
    }
}
