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
