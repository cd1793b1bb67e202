//! What the support desk's pages (Transactions, a customer, a subscription) share: the link to what fixes a
//! failure, next to the one sentence that names it.
use crate::apple::ProblemKind;
use crate::support::Freshness;

/// A link to the page where the cause of a failure is fixed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixLink {
    pub url: String,
    pub text: &'static str,
}

/// When the project's key is the cause (none in use, Apple refuses it, a token could not be signed with it), the
/// Keys page, which every role may open, says what to do. Other failures are fixed by waiting (a rate limit, an
/// outage) or by checking the id, which the sentence says.
pub fn fix_for(slug: &str, freshness: &Freshness) -> Option<FixLink> {
    match freshness.problem.as_ref()?.kind {
        ProblemKind::NoKey => Some(FixLink {
            url: crate::urls::keys(slug),
            text: "Open the Keys page",
        }),
        ProblemKind::Unauthorized => Some(FixLink {
            url: format!("{}#troubleshooting", crate::urls::keys(slug)),
            text: "Why Apple refuses a key, and what to do: the Keys page",
        }),
        ProblemKind::Unprepared => Some(FixLink {
            url: crate::urls::keys(slug),
            text: "Check the key on the Keys page",
        }),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::support::AppleProblem;

    #[test]
    fn a_key_problem_links_to_the_keys_page_and_others_do_not() {
        let with = |p: AppleProblem| Freshness::from_index(None, Some(p), true, 0);
        let fix = fix_for("demo", &with(AppleProblem::no_key())).unwrap();
        assert_eq!(fix.url, "/projects/demo/keys");
        let unauthorized = AppleProblem::from_error(&crate::apple::AppleError::Unauthorized {
            environment: crate::apple::Environment::Production,
        });
        assert_eq!(
            fix_for("demo", &with(unauthorized)).unwrap().url,
            "/projects/demo/keys#troubleshooting"
        );
        let timeout = AppleProblem::from_error(&crate::apple::AppleError::Timeout { retries: 2 });
        assert_eq!(fix_for("demo", &with(timeout)), None);
        assert_eq!(
            fix_for(
                "demo",
                &Freshness::from_apple(crate::apple::Environment::Sandbox, 0)
            ),
            None
        );
    }
}
